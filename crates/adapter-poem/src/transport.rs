//! A per-endpoint [`Transport`].

use session_core::Transport;

use crate::route::{PerRouteEndpoint, PerRouteMiddleware};

/// Runs the endpoint it wraps under a transport of its own instead of the manager's
/// [`Options::transport`](session_core::Options::transport): typically a nested API route
/// under [`Transport::Header`], where the session ID travels in `Authorization: Bearer`
/// and comes back in `Session-Token` (see [`session_core::transport`]). See
/// [`PerRouteMiddleware`] for where to put it.
pub type TransportMiddleware = PerRouteMiddleware<Transport>;

/// The endpoint [`TransportMiddleware`] wraps.
pub type TransportEndpoint<E> = PerRouteEndpoint<E, Transport>;

impl PerRouteMiddleware<Transport> {
    /// Endpoints whose session ID travels in the token header only ([`Transport::Header`]).
    pub fn header() -> Self {
        Self::new(Transport::Header)
    }
}
