//! The least an axum session layer can cost: what every such layer must do per request and
//! nothing more. It measures the floor under the "/untouched within 5% of no layer" target.
//!
//! Per request it allocates one shared handle (a session layer needs per-request state that
//! the handler and the layer's response future both hold), puts a clone into the request's
//! extensions (where extractors look for it) and keeps the other until the response is
//! ready. It is installed with `Router::layer`, as users install a session layer, so it also
//! pays what axum charges any layer (boxing the layered route, cloning it per request). It
//! reads no cookie and writes nothing.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::task::{Context, Poll};

use axum::http::Request;
use tower_layer::Layer;
use tower_service::Service;

/// A per-request handle, as a session layer would hand to its extractor.
#[derive(Clone, Debug, Default)]
pub struct Handle(pub Arc<AtomicBool>);

/// Layer of [`FloorService`].
#[derive(Clone, Copy, Debug, Default)]
pub struct FloorLayer;

impl<S> Layer<S> for FloorLayer {
    type Service = FloorService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        FloorService { inner }
    }
}

/// See the module docs.
#[derive(Clone, Debug)]
pub struct FloorService<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for FloorService<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = FloorFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let handle = Handle::default();
        request.extensions_mut().insert(handle.clone());
        FloorFuture {
            inner: self.inner.call(request),
            handle: Some(handle),
        }
    }
}

pin_project_lite::pin_project! {
    /// The handler's future, holding the handle until the response is ready.
    pub struct FloorFuture<F> {
        #[pin]
        inner: F,
        handle: Option<Handle>,
    }
}

impl<F: Future> Future for FloorFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let output = std::task::ready!(this.inner.poll(cx));
        this.handle.take();
        Poll::Ready(output)
    }
}
