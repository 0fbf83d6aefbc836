//! The per-endpoint middleware: runs the endpoint it wraps under a [`RouteSetting`] of its
//! own.

use poem::{Endpoint, Middleware, Request, Result};
use session_core::RouteSetting;

/// Applies `setting` to the session of every request of the endpoint it wraps, overriding
/// the manager's option there: [`OutagePolicyMiddleware`](crate::OutagePolicyMiddleware)
/// and [`TransportMiddleware`](crate::TransportMiddleware) are this middleware.
///
/// Put it on an endpoint (or a nested `Route`) *inside* the
/// [`SessionMiddleware`](crate::SessionMiddleware), which must have put the session in the
/// request first; on an endpoint without one it does nothing.
#[derive(Debug, Clone, Copy)]
pub struct PerRouteMiddleware<T> {
    setting: T,
}

impl<T: RouteSetting> PerRouteMiddleware<T> {
    /// Endpoints under `setting`.
    pub fn new(setting: T) -> Self {
        PerRouteMiddleware { setting }
    }
}

impl<E: Endpoint, T: RouteSetting> Middleware<E> for PerRouteMiddleware<T> {
    type Output = PerRouteEndpoint<E, T>;

    fn transform(&self, inner: E) -> Self::Output {
        PerRouteEndpoint {
            inner,
            setting: self.setting,
        }
    }
}

/// The endpoint [`PerRouteMiddleware`] wraps.
#[derive(Debug)]
pub struct PerRouteEndpoint<E, T> {
    inner: E,
    setting: T,
}

impl<E: Endpoint, T: RouteSetting> Endpoint for PerRouteEndpoint<E, T> {
    type Output = E::Output;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        if let Some(session) = req.extensions().get::<session_core::Session>() {
            self.setting.apply(session);
            if self.setting.reads_token_header() {
                let lines = session_core::transport::token_lines(session.manager(), req.headers());
                session.present_token(lines);
            }
        }
        self.inner.call(req).await
    }
}
