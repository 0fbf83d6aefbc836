//! [`CsrfLayer`]: rejects unsafe requests that do not carry the session's CSRF token.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use session_core::csrf::{self, CSRF_HEADER, CSRF_REJECTED, MAX_FORM_BYTES};
use tower_layer::Layer;
use tower_service::Service;

use crate::error::SessionError;
use crate::extract::MissingSessionLayer;

/// Guards the routes it wraps against cross-site request forgery with the session's
/// synchronizer token ([`session_core::csrf`]).
///
/// Safe methods (GET, HEAD, OPTIONS, TRACE) pass untouched. Every other request must carry
/// the token of [`session_core::Session::csrf_token`] in the `X-CSRF-Token` header, or
/// else in the `csrf_token` field of an `application/x-www-form-urlencoded` body (read up
/// to 64 KiB and handed on to the handler intact); otherwise it is answered with
/// `403 Forbidden` and the body `missing or invalid CSRF token`, and the handler does not
/// run. Nothing is checked on routes without the layer.
///
/// Apply it *inside* the [`SessionLayer`](crate::SessionLayer), which must have put the
/// session in the request first (without it the answer is the 500 of
/// [`MissingSessionLayer`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct CsrfLayer;

impl CsrfLayer {
    /// The guard.
    pub fn new() -> Self {
        CsrfLayer
    }
}

impl<S> Layer<S> for CsrfLayer {
    type Service = CsrfService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CsrfService { inner }
    }
}

/// The service built by [`CsrfLayer`].
#[derive(Debug, Clone)]
pub struct CsrfService<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S> Service<Request<Body>> for CsrfService<S>
where
    S: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        if !csrf::is_unsafe(request.method().as_str()) {
            return Box::pin(self.inner.call(request));
        }
        // The readied service goes into the future; a clone stays for the next request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            match checked(request).await {
                Ok(request) => inner.call(request).await,
                Err(answer) => Ok(answer),
            }
        })
    }
}

/// The request, when it carries the session's token; else the answer to send instead.
async fn checked(request: Request<Body>) -> Result<Request<Body>, Response> {
    let Some(session) = request.extensions().get::<session_core::Session>().cloned() else {
        return Err(MissingSessionLayer.into_response());
    };
    let header = request
        .headers()
        .get(CSRF_HEADER)
        .map(|v| v.as_bytes().to_vec());
    let content_type = request.headers().get(CONTENT_TYPE).map(|v| v.as_bytes());
    let (request, form) = if csrf::reads_form(header.as_deref(), content_type) {
        let (parts, body) = request.into_parts();
        // Too large or broken: no token found, which is a 403 like any other.
        let form = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| rejected())?;
        (
            Request::from_parts(parts, Body::from(form.clone())),
            Some(form),
        )
    } else {
        (request, None)
    };
    match csrf::verify_request(&session, header.as_deref(), form.as_deref()).await {
        Ok(true) => Ok(request),
        Ok(false) => Err(rejected()),
        Err(e) => Err(SessionError(e).into_response()),
    }
}

fn rejected() -> Response {
    (StatusCode::FORBIDDEN, CSRF_REJECTED).into_response()
}
