//! How session failures become HTTP responses.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::headers::Headers;

/// Builds the response sent when the session fails (at commit, or from a handler's
/// [`SessionError`]). Replace it with [`crate::SessionMiddleware::on_error`].
pub type ErrorHook = Arc<dyn Fn(&session_core::Error) -> HttpResponse + Send + Sync>;

/// The default [`ErrorHook`]: core's answer to the error
/// ([`session_core::Error::http_status`], the [`session_core::Error::public_message`] as
/// plain text, `Cache-Control: no-store`; see [`session_core::response`]), in actix-web's
/// types.
pub fn default_error_response(error: &session_core::Error) -> HttpResponse {
    let mut response = HttpResponse::with_body(status(error), error.public_message());
    error.write_headers(&mut Headers(response.headers_mut()));
    response.map_into_boxed_body()
}

/// Core's status for `error` in actix-web's type.
fn status(error: &session_core::Error) -> StatusCode {
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
        status(&self.0)
    }

    fn error_response(&self) -> HttpResponse {
        default_error_response(&self.0)
    }
}
