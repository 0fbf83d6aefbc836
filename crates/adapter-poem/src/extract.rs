//! The `Session` and `Flash` extractors.

use std::ops::Deref;

use poem::http::StatusCode;
use poem::{FromRequest, Request, RequestBody, Result};

pub(crate) fn missing_middleware() -> poem::Error {
    tracing::error!("session extractor used on a route without SessionMiddleware");
    poem::Error::from_string(
        "session middleware is not installed on this route",
        StatusCode::INTERNAL_SERVER_ERROR,
    )
}

/// The request's session, for handlers: `async fn h(session: Session)`.
///
/// A cheap handle (`Clone + Send + Sync`) on [`session_core::Session`], which it derefs to;
/// it may be held across `.await` and moved into spawned tasks. Extracting it without
/// [`crate::SessionMiddleware`] fails with a 500 that says so.
#[derive(Debug, Clone)]
pub struct Session(session_core::Session);

impl Session {
    /// The framework-neutral handle.
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

impl<'a> FromRequest<'a> for Session {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> Result<Self> {
        req.extensions()
            .get::<session_core::Session>()
            .cloned()
            .map(Session)
            .ok_or_else(missing_middleware)
    }
}

/// The request's flash messages, for handlers: `async fn h(flash: Flash)`.
///
/// Derefs to [`session_flash::Flash`]. Every extraction in one request yields the same
/// messages, so "show now" messages added in a handler are seen by whatever renders the page.
#[derive(Debug, Clone)]
pub struct Flash(session_flash::Flash);

impl Flash {
    /// The framework-neutral handle.
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

impl<'a> FromRequest<'a> for Flash {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> Result<Self> {
        req.extensions()
            .get::<session_flash::Flash>()
            .cloned()
            .map(Flash)
            .ok_or_else(missing_middleware)
    }
}
