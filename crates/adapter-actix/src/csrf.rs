//! [`CsrfMiddleware`]: rejects unsafe requests that do not carry the session's CSRF token.

use std::future::{Ready, ready};
use std::rc::Rc;

use actix_web::body::EitherBody;
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::CONTENT_TYPE;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{Error, HttpMessage as _, HttpResponse};
use futures_util::StreamExt as _;
use futures_util::future::LocalBoxFuture;
use session_core::csrf::{self, CSRF_HEADER, CSRF_REJECTED, MAX_FORM_BYTES};

use crate::error::SessionError;
use crate::extract::session_of;

/// Guards the scope or resource it wraps against cross-site request forgery with the
/// session's synchronizer token ([`session_core::csrf`]).
///
/// Safe methods (GET, HEAD, OPTIONS, TRACE) pass untouched. Every other request must carry
/// the token of [`session_core::Session::csrf_token`] in the `X-CSRF-Token` header, or
/// else in the `csrf_token` field of an `application/x-www-form-urlencoded` body (read up
/// to 64 KiB and handed on to the handler intact); otherwise it is answered with
/// `403 Forbidden` and the body `missing or invalid CSRF token`, and the handler does not
/// run. Nothing is checked outside the middleware.
///
/// Wrap it *inside* the [`SessionMiddleware`](crate::SessionMiddleware), which must have
/// put the session in the request first (without it the answer is a 500 that says so).
#[derive(Debug, Clone, Copy, Default)]
pub struct CsrfMiddleware;

impl CsrfMiddleware {
    /// The guard.
    pub fn new() -> Self {
        CsrfMiddleware
    }
}

impl<S, B> Transform<S, ServiceRequest> for CsrfMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = CsrfService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(CsrfService {
            service: Rc::new(service),
        }))
    }
}

/// The service [`CsrfMiddleware`] wraps around a scope or resource.
pub struct CsrfService<S> {
    service: Rc<S>,
}

impl<S, B> Service<ServiceRequest> for CsrfService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        Box::pin(async move {
            if csrf::is_unsafe(req.method().as_str()) {
                let session = match session_of(req.request()) {
                    Ok(session) => session,
                    Err(e) => return Ok(req.error_response(e).map_into_right_body()),
                };
                let header = req
                    .headers()
                    .get(CSRF_HEADER)
                    .map(|v| v.as_bytes().to_vec());
                let content_type = req.headers().get(CONTENT_TYPE).map(|v| v.as_bytes());
                let form = if csrf::reads_form(header.as_deref(), content_type) {
                    // Too large or broken: no token found, which is a 403 like any other.
                    let Some(form) = read_form(req.take_payload()).await else {
                        return Ok(rejected(req));
                    };
                    req.set_payload(Payload::from(form.clone()));
                    Some(form)
                } else {
                    None
                };
                match csrf::verify_request(&session, header.as_deref(), form.as_deref()).await {
                    Ok(true) => {}
                    Ok(false) => return Ok(rejected(req)),
                    // Answered as a handler's session error, so the session middleware's
                    // error hook applies.
                    Err(e) => {
                        return Ok(req.error_response(SessionError(e)).map_into_right_body());
                    }
                }
            }
            Ok(service.call(req).await?.map_into_left_body())
        })
    }
}

/// The whole body, or `None` when it is over [`MAX_FORM_BYTES`] or cannot be read.
async fn read_form(mut payload: Payload) -> Option<Bytes> {
    let mut form = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.ok()?;
        if form.len() + chunk.len() > MAX_FORM_BYTES {
            return None;
        }
        form.extend_from_slice(&chunk);
    }
    Some(form.freeze())
}

fn rejected<B>(req: ServiceRequest) -> ServiceResponse<EitherBody<B>> {
    req.into_response(HttpResponse::Forbidden().body(CSRF_REJECTED))
        .map_into_right_body()
}
