//! How session failures become HTTP responses.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::{IntoResponse, Response, error::ResponseError};

/// Builds the response sent when the session fails (at commit, or from a handler's
/// [`SessionError`]). Replace it with [`crate::SessionMiddleware::on_error`].
pub type ErrorHook = Arc<dyn Fn(&session_core::Error) -> Response + Send + Sync>;

/// The default [`ErrorHook`]: core's answer to the error
/// ([`session_core::Error::http_status`], the [`session_core::Error::public_message`] as
/// plain text, `Cache-Control: no-store`; see [`session_core::response`]), in poem's types.
pub fn default_error_response(error: &session_core::Error) -> Response {
    let mut response = error
        .public_message()
        .with_status(status(error))
        .into_response();
    error.write_headers(response.headers_mut());
    response
}

/// Core's status for `error` in poem's type.
fn status(error: &session_core::Error) -> StatusCode {
    // Core only answers standard codes; the fallback keeps this total.
    StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A session failure returned by a handler: `?` turns a [`session_core::Error`] into it, and
/// poem turns it into a [`poem::Error`] (handlers may return `Result<T, SessionError>` or
/// `poem::Result<T>`).
///
/// Behind [`crate::SessionMiddleware`] the middleware answers it with its [`ErrorHook`] (so
/// handler errors and commit errors look the same); on its own it maps like
/// [`default_error_response`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SessionError(#[from] pub session_core::Error);

impl ResponseError for SessionError {
    fn status(&self) -> StatusCode {
        status(&self.0)
    }

    fn as_response(&self) -> Response {
        default_error_response(&self.0)
    }
}
