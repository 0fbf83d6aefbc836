//! A per-scope or per-resource [`OutagePolicy`].

use session_core::OutagePolicy;

use crate::route::{PerRouteMiddleware, PerRouteService};

/// Runs the scope, resource or route it wraps under a policy of its own instead of the
/// manager's [`Options::outage_policy`](session_core::Options::outage_policy); see
/// [`PerRouteMiddleware`] for where to wrap it.
pub type OutagePolicyMiddleware = PerRouteMiddleware<OutagePolicy>;

/// The service [`OutagePolicyMiddleware`] wraps around a scope or resource.
pub type OutagePolicyService<S> = PerRouteService<S, OutagePolicy>;

impl PerRouteMiddleware<OutagePolicy> {
    /// Routes that keep serving while the store is down, as anonymous visitors
    /// ([`OutagePolicy::Anonymous`]).
    pub fn anonymous() -> Self {
        Self::new(OutagePolicy::Anonymous)
    }
}
