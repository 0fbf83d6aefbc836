//! A per-endpoint [`OutagePolicy`].

use session_core::OutagePolicy;

use crate::route::{PerRouteEndpoint, PerRouteMiddleware};

/// Runs the endpoint it wraps under a policy of its own instead of the manager's
/// [`Options::outage_policy`](session_core::Options::outage_policy); see
/// [`PerRouteMiddleware`] for where to put it.
pub type OutagePolicyMiddleware = PerRouteMiddleware<OutagePolicy>;

/// The endpoint [`OutagePolicyMiddleware`] wraps.
pub type OutagePolicyEndpoint<E> = PerRouteEndpoint<E, OutagePolicy>;

impl PerRouteMiddleware<OutagePolicy> {
    /// Endpoints that keep serving while the store is down, as anonymous visitors
    /// ([`OutagePolicy::Anonymous`]).
    pub fn anonymous() -> Self {
        Self::new(OutagePolicy::Anonymous)
    }
}
