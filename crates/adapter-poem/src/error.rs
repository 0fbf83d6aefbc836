//! How session failures become HTTP responses.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::http::header::CACHE_CONTROL;
use poem::{IntoResponse, Response, error::ResponseError};

/// Builds the response sent when the session fails (at commit, or from a handler's
/// [`SessionError`]). Replace it with [`crate::SessionMiddleware::on_error`].
pub type ErrorHook = Arc<dyn Fn(&session_core::Error) -> Response + Send + Sync>;

/// The default [`ErrorHook`]: core's mapping ([`session_core::Error::http_status`]: 503 for
/// backend failures, 500 otherwise) with core's short plain-text
/// [`session_core::Error::public_message`], which reveals no details (they are logged
/// instead: they can name hosts or keys), and `Cache-Control: no-store`.
pub fn default_error_response(error: &session_core::Error) -> Response {
    error
        .public_message()
        .with_status(status_for(error))
        .with_header(CACHE_CONTROL, "no-store")
        .into_response()
}

/// [`session_core::Error::http_status`] as a poem status.
pub fn status_for(error: &session_core::Error) -> StatusCode {
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
        status_for(&self.0)
    }

    fn as_response(&self) -> Response {
        default_error_response(&self.0)
    }
}
