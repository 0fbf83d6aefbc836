//! The per-route middleware: runs the scopes and resources it wraps under a
//! [`RouteSetting`] of their own.

use std::future::{Ready, ready};

use actix_web::HttpMessage;
use actix_web::dev::{Service, ServiceRequest, Transform, forward_ready};
use session_core::RouteSetting;

use crate::middleware::token_lines;

/// Applies `setting` to the session of every request of the scope, resource or route it
/// wraps, overriding the manager's option there:
/// [`OutagePolicyMiddleware`](crate::OutagePolicyMiddleware) and
/// [`TransportMiddleware`](crate::TransportMiddleware) are this middleware.
///
/// Wrap it *inside* the [`SessionMiddleware`](crate::SessionMiddleware) (on a `web::scope` or
/// `web::resource` of an app that the session middleware wraps), which must have put the
/// session in the request first; on a route without one it does nothing. It only sets the
/// option and returns the inner service's future as is.
#[derive(Debug, Clone, Copy)]
pub struct PerRouteMiddleware<T> {
    setting: T,
}

impl<T: RouteSetting> PerRouteMiddleware<T> {
    /// Routes under `setting`.
    pub fn new(setting: T) -> Self {
        PerRouteMiddleware { setting }
    }
}

impl<S, T> Transform<S, ServiceRequest> for PerRouteMiddleware<T>
where
    S: Service<ServiceRequest>,
    T: RouteSetting,
{
    type Response = S::Response;
    type Error = S::Error;
    type Transform = PerRouteService<S, T>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(PerRouteService {
            service,
            setting: self.setting,
        }))
    }
}

/// The service [`PerRouteMiddleware`] wraps around a scope or resource.
#[derive(Debug)]
pub struct PerRouteService<S, T> {
    service: S,
    setting: T,
}

impl<S, T> Service<ServiceRequest> for PerRouteService<S, T>
where
    S: Service<ServiceRequest>,
    T: RouteSetting,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        if let Some(session) = req.extensions().get::<session_core::Session>() {
            self.setting.apply(session);
            if self.setting.reads_token_header() {
                session.present_token(token_lines(session.manager(), req.headers()));
            }
        }
        self.service.call(req)
    }
}
