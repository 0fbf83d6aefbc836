//! A per-route [`OutagePolicy`]: a layer that sets it on the request's session.

use std::task::{Context, Poll};

use axum::http::Request;
use session_core::OutagePolicy;
use tower_layer::Layer;
use tower_service::Service;

/// Runs the routes it wraps under `policy` instead of the manager's
/// [`Options::outage_policy`](session_core::Options::outage_policy).
///
/// Apply it to a sub-router (or with `route_layer`) *inside* the
/// [`SessionLayer`](crate::SessionLayer), which must have put the session in the request
/// first; on a route without one it does nothing. It only sets the policy: the handler's future is returned as
/// is, so it costs no allocation.
#[derive(Debug, Clone, Copy)]
pub struct OutagePolicyLayer {
    policy: OutagePolicy,
}

impl OutagePolicyLayer {
    /// Routes under `policy`.
    pub fn new(policy: OutagePolicy) -> Self {
        OutagePolicyLayer { policy }
    }

    /// Routes that keep serving while the store is down, as anonymous visitors
    /// ([`OutagePolicy::Anonymous`]).
    pub fn anonymous() -> Self {
        Self::new(OutagePolicy::Anonymous)
    }
}

impl<S> Layer<S> for OutagePolicyLayer {
    type Service = OutagePolicyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        OutagePolicyService {
            inner,
            policy: self.policy,
        }
    }
}

/// The service built by [`OutagePolicyLayer`].
#[derive(Debug, Clone)]
pub struct OutagePolicyService<S> {
    inner: S,
    policy: OutagePolicy,
}

impl<S, B> Service<Request<B>> for OutagePolicyService<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if let Some(session) = request.extensions().get::<session_core::Session>() {
            session.set_outage_policy(self.policy);
        }
        self.inner.call(request)
    }
}
