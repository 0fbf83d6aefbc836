//! A per-route [`Transport`]: a layer that sets it on the request's session.

use std::task::{Context, Poll};

use axum::http::Request;
use session_core::Transport;
use tower_layer::Layer;
use tower_service::Service;

/// Runs the routes it wraps under `transport` instead of the manager's
/// [`Options::transport`](session_core::Options::transport): typically an API sub-router
/// under [`Transport::Header`], where the session ID travels in `Authorization: Bearer`
/// and comes back in `Session-Token` (see [`session_core::transport`]).
///
/// Apply it to a sub-router (or with `route_layer`) *inside* the
/// [`SessionLayer`](crate::SessionLayer), which must have put the session in the request
/// first; on a route without one it does nothing. It only sets the transport: the handler's
/// future is returned as is, so it costs no allocation.
#[derive(Debug, Clone, Copy)]
pub struct TransportLayer {
    transport: Transport,
}

impl TransportLayer {
    /// Routes under `transport`.
    pub fn new(transport: Transport) -> Self {
        TransportLayer { transport }
    }

    /// Routes whose session ID travels in the token header only ([`Transport::Header`]).
    pub fn header() -> Self {
        Self::new(Transport::Header)
    }
}

impl<S> Layer<S> for TransportLayer {
    type Service = TransportService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TransportService {
            inner,
            transport: self.transport,
        }
    }
}

/// The service built by [`TransportLayer`].
#[derive(Debug, Clone)]
pub struct TransportService<S> {
    inner: S,
    transport: Transport,
}

impl<S, B> Service<Request<B>> for TransportService<S>
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
            session.set_transport(self.transport);
        }
        self.inner.call(request)
    }
}
