//! The [`Session`] and [`Flash`] extractors.

use std::ops::Deref;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

/// The request's session, for handlers: `async fn handler(session: Session)`.
///
/// Derefs to [`session_core::Session`], so every session method is available. It is a cheap
/// handle: clone it into spawned tasks or hold it across `.await`; the layer commits whatever
/// it holds once the handler has answered.
#[derive(Clone, Debug)]
pub struct Session(session_core::Session);

impl Session {
    /// The core session handle.
    pub fn into_inner(self) -> session_core::Session {
        self.0
    }
}

impl Deref for Session {
    type Target = session_core::Session;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl From<session_core::Session> for Session {
    fn from(session: session_core::Session) -> Self {
        Session(session)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = MissingSessionLayer;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<session_core::Session>()
            .cloned()
            .map(Session)
            .ok_or(MissingSessionLayer)
    }
}

/// The rejection of [`Session`] when no [`SessionLayer`](crate::SessionLayer) wraps the route:
/// a programming error, answered with 500 and a message saying how to fix it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingSessionLayer;

/// What [`MissingSessionLayer`] says, in the log and in the 500 response.
const MISSING_LAYER: &str = "the Session extractor was used but the SessionLayer is not \
                             installed on this route: add `.layer(SessionLayer::new(manager))` \
                             to the Router";

impl std::fmt::Display for MissingSessionLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(MISSING_LAYER)
    }
}

impl std::error::Error for MissingSessionLayer {}

impl IntoResponse for MissingSessionLayer {
    fn into_response(self) -> Response {
        tracing::error!("{MISSING_LAYER}");
        (StatusCode::INTERNAL_SERVER_ERROR, MISSING_LAYER).into_response()
    }
}

/// The request's flash messages, for handlers: `async fn handler(flash: Flash)`.
///
/// Derefs to [`session_flash::Flash`]. Every extraction in one request yields the same
/// handle (it is kept in the request's extensions), so "show now" messages added by one part
/// of the request are seen by whatever renders the response.
#[derive(Clone, Debug)]
pub struct Flash(session_flash::Flash);

impl Flash {
    /// The flash handle.
    pub fn into_inner(self) -> session_flash::Flash {
        self.0
    }
}

impl Deref for Flash {
    type Target = session_flash::Flash;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Flash {
    type Rejection = MissingSessionLayer;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(flash) = parts.extensions.get::<session_flash::Flash>() {
            return Ok(Flash(flash.clone()));
        }
        let session = Session::from_request_parts(parts, state).await?;
        let flash = session_flash::Flash::new(session.into_inner());
        parts.extensions.insert(flash.clone());
        Ok(Flash(flash))
    }
}
