//! Session errors as HTTP responses.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};
use session_core::Error;

/// Builds the response that replaces a handler's when the session fails.
pub type ErrorHandler = Arc<dyn Fn(&Error) -> Response + Send + Sync>;

/// The default error response: core's mapping ([`Error::http_status`]: 503 for a backend
/// failure, which the client may retry with its cookie untouched, 500 for anything else) with
/// core's short [`Error::public_message`] (error details can name hosts or keys, so they go to
/// the log, not to the client), and `Cache-Control: no-store`.
pub fn default_error_response(error: &Error) -> Response {
    (
        status_for(error),
        [(CACHE_CONTROL, "no-store")],
        error.public_message(),
    )
        .into_response()
}

/// [`Error::http_status`] as an axum status.
pub fn status_for(error: &Error) -> StatusCode {
    // Core only answers standard codes; the fallback keeps this total.
    StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A session error returned by a handler, so that handlers can use `?` on every session call.
///
/// On its own it answers like [`default_error_response`]. Under a
/// [`SessionLayer`](crate::SessionLayer), the layer replaces that answer with its error handler's
/// (see [`SessionLayer::with_error_handler`](crate::SessionLayer::with_error_handler)), so a
/// custom error page applies to handler errors and commit errors alike.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SessionError(#[from] pub Error);

/// Carries a handler's error from its response to the layer, which owns the error handler.
#[derive(Clone)]
pub(crate) struct HandlerError(pub(crate) Arc<Error>);

impl IntoResponse for SessionError {
    fn into_response(self) -> Response {
        let mut response = default_error_response(&self.0);
        response
            .extensions_mut()
            .insert(HandlerError(Arc::new(self.0)));
        response
    }
}
