//! The tower [`Layer`] and [`Service`] that run the session lifecycle around a handler.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::BoxError;
use axum::body::{Body, Bytes, HttpBody};
use axum::http::{Request, Response};
use session_core::{Error, Manager};
use tower_layer::Layer;
use tower_service::Service;

use crate::error::{ErrorHook, HandlerError, default_error_response};

/// Adds a session to every request of the routes it wraps.
///
/// Per request: the `Cookie` headers (and the token header when the manager's transport is
/// not `cookie`; a per-route transport override reads it for its routes) go to
/// [`Manager::load_http`] (lazy: no provider
/// call yet), the
/// [`session_core::Session`] goes into the request extensions for the
/// [`Session`](crate::Session) extractor, and after the handler [`session_core::Session::commit`]
/// persists the changes. The response then gets what core's
/// [`Commit::write_headers`](session_core::Commit::write_headers) asks for (a `Set-Cookie`
/// with `Cache-Control: no-store` and `Vary: Cookie`, or under the header transport the
/// token header with its `Cache-Control` and `Vary`). A failed commit replaces the response
/// with the [`ErrorHook`]'s, and never sends a `Set-Cookie`: a backend outage must not rotate
/// or remove the client's cookie.
#[derive(Clone)]
pub struct SessionLayer {
    manager: Manager,
    on_error: ErrorHook,
}

impl std::fmt::Debug for SessionLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionLayer")
            .field("manager", &self.manager)
            .finish_non_exhaustive()
    }
}

impl SessionLayer {
    /// A layer over `manager`, answering session failures with [`default_error_response`]
    /// (core's status and message for the error).
    pub fn new(manager: Manager) -> Self {
        SessionLayer {
            manager,
            on_error: Arc::new(default_error_response),
        }
    }

    /// Replaces the response built for a session failure. `hook` gets the failed commit's
    /// error, or the error a handler returned as [`SessionError`](crate::SessionError);
    /// whatever it answers is sent without a `Set-Cookie` when the commit failed.
    pub fn on_error(
        mut self,
        hook: impl Fn(&Error) -> axum::response::Response + Send + Sync + 'static,
    ) -> Self {
        self.on_error = Arc::new(hook);
        self
    }

    /// The manager the layer loads sessions from.
    pub fn manager(&self) -> &Manager {
        &self.manager
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            manager: self.manager.clone(),
            on_error: self.on_error.clone(),
        }
    }
}

/// The service built by [`SessionLayer`].
#[derive(Clone)]
pub struct SessionService<S> {
    inner: S,
    manager: Manager,
    on_error: ErrorHook,
}

impl<S> std::fmt::Debug for SessionService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionService")
            .field("manager", &self.manager)
            .finish_non_exhaustive()
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: HttpBody<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = axum::response::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let session = self.manager.load_http(request.headers());
        if self.manager.options().device_metadata {
            // The peer is known only when the app is served with
            // `into_make_service_with_connect_info::<SocketAddr>()`; no forwarded header is
            // trusted.
            let peer = request
                .extensions()
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|info| info.0.ip());
            let agent = request.headers().get(axum::http::header::USER_AGENT);
            session.present_client(agent.map(axum::http::HeaderValue::as_bytes), peer);
        }
        request.extensions_mut().insert(session.clone());
        ResponseFuture {
            // Called here, on the service `poll_ready` readied, not inside a future: so no
            // clone of the inner service (a boxed route in axum: an allocation) is needed.
            inner: self.inner.call(request),
            session: Some(session),
            on_error: self.on_error.clone(),
            committing: None,
            response: None,
        }
    }
}

pin_project_lite::pin_project! {
    /// The future [`SessionService`] returns: the handler's response, then the commit.
    ///
    /// A named future rather than a boxed one so that a request that needs no provider call
    /// after the handler (the session unused, or only read) costs no allocation here: the
    /// asynchronous commit, the only part that needs boxing, runs only when there is
    /// something to write.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        session: Option<session_core::Session>,
        on_error: ErrorHook,
        // Only the commit is boxed; the response waits here, so it is not copied into the
        // box with it.
        committing: Option<BoxFuture<session_core::Result<session_core::Commit>>>,
        response: Option<axum::response::Response>,
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: HttpBody<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Output = Result<axum::response::Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(committing) = this.committing.as_mut() {
            let commit = std::task::ready!(committing.as_mut().poll(cx));
            *this.committing = None;
            return match this.response.take() {
                Some(response) => Poll::Ready(Ok(complete(response, commit, this.on_error))),
                // Polled again after completion: nothing sensible is left to return.
                None => Poll::Pending,
            };
        }
        let response = std::task::ready!(this.inner.poll(cx))?.map(Body::new);
        let Some(session) = this.session.take() else {
            // Polled again after completion: nothing sensible is left to return.
            return Poll::Pending;
        };
        if let Some(commit) = session.commit_without_io() {
            return Poll::Ready(Ok(complete(response, Ok(commit), this.on_error)));
        }
        let mut committing: BoxFuture<_> = Box::pin(async move { session.commit().await });
        match committing.as_mut().poll(cx) {
            Poll::Ready(commit) => Poll::Ready(Ok(complete(response, commit, this.on_error))),
            Poll::Pending => {
                *this.committing = Some(committing);
                *this.response = Some(response);
                Poll::Pending
            }
        }
    }
}

/// Turns the commit's outcome into the response to send.
fn complete(
    mut response: axum::response::Response,
    commit: session_core::Result<session_core::Commit>,
    on_error: &ErrorHook,
) -> axum::response::Response {
    let commit = match commit {
        Ok(commit) => commit,
        Err(e) => {
            e.log("session commit failed");
            return on_error(&e);
        }
    };
    if let Some(HandlerError(e)) = response.extensions_mut().remove::<HandlerError>() {
        e.log("session error returned by a handler");
        response = on_error(&e);
    }
    if let Err(e) = commit.write_headers(response.headers_mut()) {
        e.log("session headers refused");
        return on_error(&e);
    }
    response
}
