//! A per-endpoint [`Transport`]: a middleware that sets it on the request's session.

use poem::{Endpoint, Middleware, Request, Result};
use session_core::Transport;

/// Runs the endpoint it wraps under `transport` instead of the manager's
/// [`Options::transport`](session_core::Options::transport): typically a nested API route
/// under [`Transport::Header`], where the session ID travels in `Authorization: Bearer`
/// and comes back in `Session-Token` (see [`session_core::transport`]).
///
/// Put it on an endpoint (or a nested `Route`) *inside* the
/// [`SessionMiddleware`](crate::SessionMiddleware), which must have put the session in the
/// request first; on an endpoint without one it does nothing.
#[derive(Debug, Clone, Copy)]
pub struct TransportMiddleware {
    transport: Transport,
}

impl TransportMiddleware {
    /// Endpoints under `transport`.
    pub fn new(transport: Transport) -> Self {
        TransportMiddleware { transport }
    }

    /// Endpoints whose session ID travels in the token header only ([`Transport::Header`]).
    pub fn header() -> Self {
        Self::new(Transport::Header)
    }
}

impl<E: Endpoint> Middleware<E> for TransportMiddleware {
    type Output = TransportEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        TransportEndpoint {
            inner,
            transport: self.transport,
        }
    }
}

/// The endpoint [`TransportMiddleware`] wraps.
#[derive(Debug)]
pub struct TransportEndpoint<E> {
    inner: E,
    transport: Transport,
}

impl<E: Endpoint> Endpoint for TransportEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        if let Some(session) = req.extensions().get::<session_core::Session>() {
            session.set_transport(self.transport);
        }
        self.inner.call(req).await
    }
}
