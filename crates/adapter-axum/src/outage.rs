//! A per-route [`OutagePolicy`].

use session_core::OutagePolicy;

use crate::route::{PerRouteLayer, PerRouteService};

/// Runs the routes it wraps under a policy of their own instead of the manager's
/// [`Options::outage_policy`](session_core::Options::outage_policy); see
/// [`PerRouteLayer`] for where to apply it.
pub type OutagePolicyLayer = PerRouteLayer<OutagePolicy>;

/// The service built by [`OutagePolicyLayer`].
pub type OutagePolicyService<S> = PerRouteService<S, OutagePolicy>;

impl PerRouteLayer<OutagePolicy> {
    /// Routes that keep serving while the store is down, as anonymous visitors
    /// ([`OutagePolicy::Anonymous`]).
    pub fn anonymous() -> Self {
        Self::new(OutagePolicy::Anonymous)
    }
}
