//! A per-scope or per-resource [`OutagePolicy`]: a middleware that sets it on the request's
//! session.

use std::future::{Ready, ready};

use actix_web::HttpMessage;
use actix_web::dev::{Service, ServiceRequest, Transform, forward_ready};
use session_core::OutagePolicy;

/// Runs the scope, resource or route it wraps under `policy` instead of the manager's
/// [`Options::outage_policy`](session_core::Options::outage_policy).
///
/// Wrap it *inside* the [`SessionMiddleware`](crate::SessionMiddleware) (on a `web::scope` or
/// `web::resource` of an app that the session middleware wraps), which must have put the
/// session in the request first; on a route without one it does nothing. It only sets the
/// policy and returns the inner service's future as is.
#[derive(Debug, Clone, Copy)]
pub struct OutagePolicyMiddleware {
    policy: OutagePolicy,
}

impl OutagePolicyMiddleware {
    /// Routes under `policy`.
    pub fn new(policy: OutagePolicy) -> Self {
        OutagePolicyMiddleware { policy }
    }

    /// Routes that keep serving while the store is down, as anonymous visitors
    /// ([`OutagePolicy::Anonymous`]).
    pub fn anonymous() -> Self {
        Self::new(OutagePolicy::Anonymous)
    }
}

impl<S> Transform<S, ServiceRequest> for OutagePolicyMiddleware
where
    S: Service<ServiceRequest>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Transform = OutagePolicyService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(OutagePolicyService {
            service,
            policy: self.policy,
        }))
    }
}

/// The service [`OutagePolicyMiddleware`] wraps around a scope or resource.
#[derive(Debug)]
pub struct OutagePolicyService<S> {
    service: S,
    policy: OutagePolicy,
}

impl<S> Service<ServiceRequest> for OutagePolicyService<S>
where
    S: Service<ServiceRequest>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        if let Some(session) = req.extensions().get::<session_core::Session>() {
            session.set_outage_policy(self.policy);
        }
        self.service.call(req)
    }
}
