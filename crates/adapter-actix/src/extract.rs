//! The `Session` and `Flash` extractors.

use std::future::{Ready, ready};
use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

/// The request's session, for handlers: `async fn h(session: Session)`.
///
/// A cheap handle (`Clone + Send + Sync`) on [`session_core::Session`], which it derefs to;
/// it may be held across `.await` and moved into spawned tasks. Extracting it without
/// [`crate::SessionMiddleware`] installed fails with a 500 that says so.
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

pub(crate) fn session_of(req: &HttpRequest) -> Result<session_core::Session, actix_web::Error> {
    req.extensions()
        .get::<session_core::Session>()
        .cloned()
        .ok_or_else(|| {
            tracing::error!("Session extractor used on a route without SessionMiddleware");
            actix_web::error::ErrorInternalServerError(
                "session middleware is not installed on this route",
            )
        })
}

impl FromRequest for Session {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(session_of(req).map(Session))
    }
}

/// The request's flash messages, for handlers: `async fn h(flash: Flash)`.
///
/// Derefs to [`session_flash::Flash`]. Every extraction in one request yields the same
/// messages (the handle is kept in the request extensions), so "show now" messages added in a
/// handler are seen by whatever renders the page.
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

impl FromRequest for Flash {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        if let Some(flash) = req.extensions().get::<session_flash::Flash>() {
            return ready(Ok(Flash(flash.clone())));
        }
        ready(session_of(req).map(|session| {
            let flash = session_flash::Flash::new(session);
            req.extensions_mut().insert(flash.clone());
            Flash(flash)
        }))
    }
}
