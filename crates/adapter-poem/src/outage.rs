//! A per-endpoint [`OutagePolicy`]: a middleware that sets it on the request's session.

use poem::{Endpoint, Middleware, Request, Result};
use session_core::OutagePolicy;

/// Runs the endpoint it wraps under `policy` instead of the manager's
/// [`Options::outage_policy`](session_core::Options::outage_policy).
///
/// Put it on an endpoint (or a nested `Route`) *inside* the
/// [`SessionMiddleware`](crate::SessionMiddleware), which must have put the session in the
/// request first; on an endpoint without one it does nothing.
#[derive(Debug, Clone, Copy)]
pub struct OutagePolicyMiddleware {
    policy: OutagePolicy,
}

impl OutagePolicyMiddleware {
    /// Endpoints under `policy`.
    pub fn new(policy: OutagePolicy) -> Self {
        OutagePolicyMiddleware { policy }
    }

    /// Endpoints that keep serving while the store is down, as anonymous visitors
    /// ([`OutagePolicy::Anonymous`]).
    pub fn anonymous() -> Self {
        Self::new(OutagePolicy::Anonymous)
    }
}

impl<E: Endpoint> Middleware<E> for OutagePolicyMiddleware {
    type Output = OutagePolicyEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        OutagePolicyEndpoint {
            inner,
            policy: self.policy,
        }
    }
}

/// The endpoint [`OutagePolicyMiddleware`] wraps.
#[derive(Debug)]
pub struct OutagePolicyEndpoint<E> {
    inner: E,
    policy: OutagePolicy,
}

impl<E: Endpoint> Endpoint for OutagePolicyEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        if let Some(session) = req.extensions().get::<session_core::Session>() {
            session.set_outage_policy(self.policy);
        }
        self.inner.call(req).await
    }
}
