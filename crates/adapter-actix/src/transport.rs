//! A per-scope or per-resource [`Transport`].

use session_core::Transport;

use crate::route::{PerRouteMiddleware, PerRouteService};

/// Runs the scope, resource or route it wraps under a transport of its own instead of the
/// manager's [`Options::transport`](session_core::Options::transport): typically an API
/// scope under [`Transport::Header`], where the session ID travels in `Authorization:
/// Bearer` and comes back in `Session-Token` (see [`session_core::transport`]). See
/// [`PerRouteMiddleware`] for where to wrap it.
pub type TransportMiddleware = PerRouteMiddleware<Transport>;

/// The service [`TransportMiddleware`] wraps around a scope or resource.
pub type TransportService<S> = PerRouteService<S, Transport>;

impl PerRouteMiddleware<Transport> {
    /// Routes whose session ID travels in the token header only ([`Transport::Header`]).
    pub fn header() -> Self {
        Self::new(Transport::Header)
    }
}
