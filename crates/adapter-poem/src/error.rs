//! How session failures become HTTP responses.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::http::header::CACHE_CONTROL;
use poem::{IntoResponse, Response, error::ResponseError};

/// Builds the response sent when the session fails (at commit, or from a handler's
/// [`SessionError`]). Replace it with [`crate::SessionMiddleware::on_error`].
pub type ErrorHook = Arc<dyn Fn(&session_core::Error) -> Response + Send + Sync>;

/// The default [`ErrorHook`]: 503 for backend failures ([`session_core::Error::is_backend`]),
/// 500 for anything else, with a short plain-text body that reveals no details (they are
/// logged instead: they can name hosts or keys).
pub fn default_error_response(error: &session_core::Error) -> Response {
    let status = status_for(error);
    let body = if status == StatusCode::SERVICE_UNAVAILABLE {
        "session storage is unavailable, please retry"
    } else {
        "session error"
    };
    body.with_status(status)
        .with_header(CACHE_CONTROL, "no-store")
        .into_response()
}

/// 503 for backend failures, 500 otherwise.
pub fn status_for(error: &session_core::Error) -> StatusCode {
    if error.is_backend() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

/// A session failure returned by a handler: `?` turns a [`session_core::Error`] into it, and
/// poem turns it into a [`poem::Error`] (handlers may return `Result<T, SessionError>` or
/// `poem::Result<T>`).
///
/// Behind [`crate::SessionMiddleware`] the middleware answers it with its [`ErrorHook`] (so
/// handler errors and commit errors look the same); on its own it maps like
/// [`default_error_response`].
#[derive(Debug)]
pub struct SessionError(pub session_core::Error);

impl From<session_core::Error> for SessionError {
    fn from(error: session_core::Error) -> Self {
        SessionError(error)
    }
}

impl std::fmt::Display for SessionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SessionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl ResponseError for SessionError {
    fn status(&self) -> StatusCode {
        status_for(&self.0)
    }

    fn as_response(&self) -> Response {
        default_error_response(&self.0)
    }
}
