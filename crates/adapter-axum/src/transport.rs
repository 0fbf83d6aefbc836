//! A per-route [`Transport`].

use session_core::Transport;

use crate::route::{PerRouteLayer, PerRouteService};

/// Runs the routes it wraps under a transport of their own instead of the manager's
/// [`Options::transport`](session_core::Options::transport): typically an API sub-router
/// under [`Transport::Header`], where the session ID travels in `Authorization: Bearer`
/// and comes back in `Session-Token` (see [`session_core::transport`]). See
/// [`PerRouteLayer`] for where to apply it.
pub type TransportLayer = PerRouteLayer<Transport>;

/// The service built by [`TransportLayer`].
pub type TransportService<S> = PerRouteService<S, Transport>;

impl PerRouteLayer<Transport> {
    /// Routes whose session ID travels in the token header only ([`Transport::Header`]).
    pub fn header() -> Self {
        Self::new(Transport::Header)
    }
}
