//! [`CsrfMiddleware`]: rejects unsafe requests that do not carry the session's CSRF token.

use poem::http::StatusCode;
use poem::http::header::CONTENT_TYPE;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use session_core::csrf::{self, CSRF_HEADER, CSRF_REJECTED, MAX_FORM_BYTES};

use crate::error::SessionError;
use crate::extract::missing_middleware;

/// Guards the endpoint it wraps against cross-site request forgery with the session's
/// synchronizer token ([`session_core::csrf`]).
///
/// Safe methods (GET, HEAD, OPTIONS, TRACE) pass untouched. Every other request must carry
/// the token of [`session_core::Session::csrf_token`] in the `X-CSRF-Token` header, or
/// else in the `csrf_token` field of an `application/x-www-form-urlencoded` body (read up
/// to 64 KiB and handed on to the endpoint intact); otherwise it is answered with
/// `403 Forbidden` and the body `missing or invalid CSRF token`, and the endpoint does not
/// run. Nothing is checked on endpoints without the middleware.
///
/// Put it *inside* the [`SessionMiddleware`](crate::SessionMiddleware), which must have
/// put the session in the request first (without it the answer is a 500 that says so).
#[derive(Debug, Clone, Copy, Default)]
pub struct CsrfMiddleware;

impl CsrfMiddleware {
    /// The guard.
    pub fn new() -> Self {
        CsrfMiddleware
    }
}

impl<E: Endpoint> Middleware<E> for CsrfMiddleware {
    type Output = CsrfEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        CsrfEndpoint { inner }
    }
}

/// The endpoint [`CsrfMiddleware`] wraps.
#[derive(Debug)]
pub struct CsrfEndpoint<E> {
    inner: E,
}

impl<E: Endpoint> Endpoint for CsrfEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        if csrf::is_unsafe(req.method().as_str()) {
            let session = req
                .extensions()
                .get::<session_core::Session>()
                .cloned()
                .ok_or_else(missing_middleware)?;
            let header = req
                .headers()
                .get(CSRF_HEADER)
                .map(|v| v.as_bytes().to_vec());
            let content_type = req.headers().get(CONTENT_TYPE).map(|v| v.as_bytes());
            let form = if csrf::reads_form(header.as_deref(), content_type) {
                // Too large or broken: no token found, which is a 403 like any other.
                let Ok(form) = req.take_body().into_bytes_limit(MAX_FORM_BYTES).await else {
                    return Ok(rejected());
                };
                req.set_body(form.clone());
                Some(form)
            } else {
                None
            };
            if !csrf::verify_request(&session, header.as_deref(), form.as_deref())
                .await
                .map_err(SessionError)?
            {
                return Ok(rejected());
            }
        }
        self.inner.call(req).await.map(IntoResponse::into_response)
    }
}

fn rejected() -> Response {
    CSRF_REJECTED
        .with_status(StatusCode::FORBIDDEN)
        .into_response()
}
