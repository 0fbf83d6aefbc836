//! How session failures become HTTP responses.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

/// Builds the response sent when the session fails (at commit, or from a handler's
/// [`SessionError`]). Replace it with [`crate::SessionMiddleware::on_error`].
pub type ErrorHook = Arc<dyn Fn(&session_core::Error) -> HttpResponse + Send + Sync>;

/// The default [`ErrorHook`]: core's mapping ([`session_core::Error::http_status`]: 503 for
/// backend failures, 500 otherwise) with core's short plain-text
/// [`session_core::Error::public_message`], which reveals no details (they are logged
/// instead), and `Cache-Control: no-store`.
pub fn default_error_response(error: &session_core::Error) -> HttpResponse {
    HttpResponse::build(status_for(error))
        .insert_header((CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .content_type("text/plain; charset=utf-8")
        .body(error.public_message())
}

/// [`session_core::Error::http_status`] as an actix-web status.
pub fn status_for(error: &session_core::Error) -> StatusCode {
    // Core only answers standard codes; the fallback keeps this total.
    StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A session failure returned by a handler: `?` turns a [`session_core::Error`] into it.
///
/// Behind [`crate::SessionMiddleware`] the middleware answers it with its [`ErrorHook`] (so
/// handler errors and commit errors look the same); on its own it maps like
/// [`default_error_response`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SessionError(#[from] pub session_core::Error);

impl ResponseError for SessionError {
    fn status_code(&self) -> StatusCode {
        status_for(&self.0)
    }

    fn error_response(&self) -> HttpResponse {
        default_error_response(&self.0)
    }
}
