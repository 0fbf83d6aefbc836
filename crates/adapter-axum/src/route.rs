//! The per-route layer: runs the routes it wraps under a [`RouteSetting`] of their own.

use std::task::{Context, Poll};

use axum::http::Request;
use session_core::RouteSetting;
use tower_layer::Layer;
use tower_service::Service;

/// Applies `setting` to the session of every request of the routes it wraps, overriding the
/// manager's option for them: [`OutagePolicyLayer`](crate::OutagePolicyLayer) and
/// [`TransportLayer`](crate::TransportLayer) are this layer.
///
/// Apply it to a sub-router (or with `route_layer`) *inside* the
/// [`SessionLayer`](crate::SessionLayer), which must have put the session in the request
/// first; on a route without one it does nothing. It only sets the option: the handler's
/// future is returned as is, so it costs no allocation.
#[derive(Debug, Clone, Copy)]
pub struct PerRouteLayer<T> {
    setting: T,
}

impl<T: RouteSetting> PerRouteLayer<T> {
    /// Routes under `setting`.
    pub fn new(setting: T) -> Self {
        PerRouteLayer { setting }
    }
}

impl<S, T: RouteSetting> Layer<S> for PerRouteLayer<T> {
    type Service = PerRouteService<S, T>;

    fn layer(&self, inner: S) -> Self::Service {
        PerRouteService {
            inner,
            setting: self.setting,
        }
    }
}

/// The service built by [`PerRouteLayer`].
#[derive(Debug, Clone)]
pub struct PerRouteService<S, T> {
    inner: S,
    setting: T,
}

impl<S, B, T> Service<Request<B>> for PerRouteService<S, T>
where
    S: Service<Request<B>>,
    T: RouteSetting,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if let Some(session) = request.extensions().get::<session_core::Session>() {
            self.setting.apply(session);
            if self.setting.reads_token_header() {
                let lines =
                    session_core::transport::token_lines(session.manager(), request.headers());
                session.present_token(lines);
            }
        }
        self.inner.call(request)
    }
}
