//! A per-scope or per-resource [`Transport`]: a middleware that sets it on the request's
//! session.

use std::future::{Ready, ready};

use actix_web::HttpMessage;
use actix_web::dev::{Service, ServiceRequest, Transform, forward_ready};
use session_core::Transport;

/// Runs the scope, resource or route it wraps under `transport` instead of the manager's
/// [`Options::transport`](session_core::Options::transport): typically an API scope under
/// [`Transport::Header`], where the session ID travels in `Authorization: Bearer` and comes
/// back in `Session-Token` (see [`session_core::transport`]).
///
/// Wrap it *inside* the [`SessionMiddleware`](crate::SessionMiddleware) (on a `web::scope` or
/// `web::resource` of an app that the session middleware wraps), which must have put the
/// session in the request first; on a route without one it does nothing. It only sets the
/// transport and returns the inner service's future as is.
#[derive(Debug, Clone, Copy)]
pub struct TransportMiddleware {
    transport: Transport,
}

impl TransportMiddleware {
    /// Routes under `transport`.
    pub fn new(transport: Transport) -> Self {
        TransportMiddleware { transport }
    }

    /// Routes whose session ID travels in the token header only ([`Transport::Header`]).
    pub fn header() -> Self {
        Self::new(Transport::Header)
    }
}

impl<S> Transform<S, ServiceRequest> for TransportMiddleware
where
    S: Service<ServiceRequest>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Transform = TransportService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(TransportService {
            service,
            transport: self.transport,
        }))
    }
}

/// The service [`TransportMiddleware`] wraps around a scope or resource.
#[derive(Debug)]
pub struct TransportService<S> {
    service: S,
    transport: Transport,
}

impl<S> Service<ServiceRequest> for TransportService<S>
where
    S: Service<ServiceRequest>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        if let Some(session) = req.extensions().get::<session_core::Session>() {
            session.set_transport(self.transport);
        }
        self.service.call(req)
    }
}
