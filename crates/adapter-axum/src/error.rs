//! Session errors as HTTP responses.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use session_core::Error;

/// Builds the response that replaces a handler's when the session fails (at commit, or from a
/// handler's [`SessionError`]). Replace it with
/// [`SessionLayer::on_error`](crate::SessionLayer::on_error).
pub type ErrorHook = Arc<dyn Fn(&Error) -> Response + Send + Sync>;

/// The default [`ErrorHook`]: core's answer to the error ([`Error::http_status`], the
/// [`Error::public_message`] as plain text, `Cache-Control: no-store`; see
/// [`session_core::response`]), in axum's types.
pub fn default_error_response(error: &Error) -> Response {
    // Core only answers standard codes; the fallback keeps this total.
    let status =
        StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, error.public_message()).into_response();
    error.write_headers(response.headers_mut());
    response
}

/// A session error returned by a handler, so that handlers can use `?` on every session call.
///
/// On its own it answers like [`default_error_response`]. Under a
/// [`SessionLayer`](crate::SessionLayer), the layer replaces that answer with its
/// [`ErrorHook`]'s (see [`SessionLayer::on_error`](crate::SessionLayer::on_error)), so a
/// custom error page applies to handler errors and commit errors alike.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SessionError(#[from] pub Error);

/// Carries a handler's error from its response to the layer, which owns the error hook.
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
