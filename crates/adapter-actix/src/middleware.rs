//! The middleware: load before the handler, commit after it.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::Error;
use actix_web::HttpMessage;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{COOKIE, HeaderMap};
use futures_util::future::LocalBoxFuture;
use session_core::{Manager, Transport};

use crate::error::{ErrorHook, SessionError, default_error_response};
use crate::headers::Headers;

/// actix-web middleware that gives every request a [`session_core::Session`].
///
/// Per request: the `Cookie` headers (and the token header when the manager's transport is
/// not `cookie`; a per-route transport override reads it for its scopes) go to
/// [`Manager::load_with_token`] (lazy: no provider
/// call until the handler touches the session), the session is put in the request extensions for the
/// [`crate::Session`] and [`crate::Flash`] extractors, the handler runs, then the session is
/// committed. On success the response gets what core's
/// [`Commit::write_headers`](session_core::Commit::write_headers) asks for (a `Set-Cookie`
/// with `Cache-Control: no-store` and `Vary: Cookie`, or under the header transport the
/// token header with its `Cache-Control` and `Vary`). On failure the response is replaced by
/// the [`ErrorHook`]'s, without any `Set-Cookie`, so an outage never replaces the client's
/// session ID.
#[derive(Clone)]
pub struct SessionMiddleware {
    manager: Manager,
    on_error: ErrorHook,
}

impl std::fmt::Debug for SessionMiddleware {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionMiddleware")
            .field("manager", &self.manager)
            .finish_non_exhaustive()
    }
}

impl SessionMiddleware {
    /// Sessions from `manager`, failures answered by [`default_error_response`].
    pub fn new(manager: Manager) -> Self {
        SessionMiddleware {
            manager,
            on_error: Arc::new(default_error_response),
        }
    }

    /// Replaces the response built for a session failure. Whatever it returns, the middleware
    /// adds no `Set-Cookie` to it.
    pub fn on_error(
        mut self,
        hook: impl Fn(&session_core::Error) -> actix_web::HttpResponse + Send + Sync + 'static,
    ) -> Self {
        self.on_error = Arc::new(hook);
        self
    }

    /// The manager sessions come from.
    pub fn manager(&self) -> &Manager {
        &self.manager
    }
}

impl<S, B> Transform<S, ServiceRequest> for SessionMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = SessionService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SessionService {
            service,
            manager: self.manager.clone(),
            on_error: self.on_error.clone(),
        }))
    }
}

/// The service [`SessionMiddleware`] wraps around the application.
pub struct SessionService<S> {
    service: S,
    manager: Manager,
    on_error: ErrorHook,
}

impl<S, B> Service<ServiceRequest> for SessionService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = ResponseFuture<S::Future, B>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let cookies = req.headers().get_all(COOKIE).map(|value| value.as_bytes());
        let session = match self.manager.options().transport {
            Transport::Cookie => self.manager.load_bytes(cookies),
            // A scope that switches transport reads the token lines itself.
            _ => self
                .manager
                .load_with_token(cookies, token_lines(&self.manager, req.headers())),
        };
        if self.manager.options().device_metadata {
            // The TCP peer: no forwarded header is trusted.
            let agent = req.headers().get(actix_web::http::header::USER_AGENT);
            session.present_client(
                agent.map(|value| value.as_bytes()),
                req.peer_addr().map(|addr| addr.ip()),
            );
        }
        req.extensions_mut().insert(session.clone());
        ResponseFuture {
            // Called here rather than inside the returned future, so the service needs no
            // shared handle of its own to outlive `self`.
            inner: self.service.call(req),
            session: Some(session),
            on_error: Arc::clone(&self.on_error),
            committing: None,
            response: None,
        }
    }
}

type Committing = LocalBoxFuture<'static, session_core::Result<session_core::Commit>>;

pin_project_lite::pin_project! {
    /// The future [`SessionService`] returns: the inner service's response, then the commit.
    ///
    /// A named future rather than a boxed one (as in the axum adapter) so that a request that
    /// needs no provider call after the handler (the session unused, or only read) costs no
    /// allocation and no move of a boxed state machine here: only the asynchronous commit is
    /// boxed, and only when there is something to write.
    pub struct ResponseFuture<F, B> {
        #[pin]
        inner: F,
        session: Option<session_core::Session>,
        on_error: ErrorHook,
        committing: Option<Committing>,
        // The response waits here while the commit runs, so it is not moved into the box.
        response: Option<ServiceResponse<B>>,
    }
}

impl<F, B> std::fmt::Debug for ResponseFuture<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, B> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
    B: MessageBody + 'static,
{
    type Output = Result<ServiceResponse<EitherBody<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(committing) = this.committing.as_mut() {
            let commit = std::task::ready!(committing.as_mut().poll(cx));
            *this.committing = None;
            return match this.response.take() {
                Some(res) => Poll::Ready(Ok(complete(res, commit, this.on_error))),
                // Polled again after completion: nothing sensible is left to return.
                None => Poll::Pending,
            };
        }
        // An inner service that fails with `Err` (not a handler: handler errors arrive as
        // responses) leaves no response to put a cookie on; the session is then not
        // committed, which at worst drops this request's changes.
        let res = std::task::ready!(this.inner.poll(cx))?;
        let Some(session) = this.session.take() else {
            // Polled again after completion: nothing sensible is left to return.
            return Poll::Pending;
        };
        if let Some(commit) = session.commit_without_io() {
            return Poll::Ready(Ok(complete(res, Ok(commit), this.on_error)));
        }
        let mut committing: Committing = Box::pin(async move { session.commit().await });
        match committing.as_mut().poll(cx) {
            Poll::Ready(commit) => Poll::Ready(Ok(complete(res, commit, this.on_error))),
            Poll::Pending => {
                *this.committing = Some(committing);
                *this.response = Some(res);
                Poll::Pending
            }
        }
    }
}

/// Turns the inner service's response and the commit's outcome into the response to send.
fn complete<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
    commit: session_core::Result<session_core::Commit>,
    on_error: &ErrorHook,
) -> ServiceResponse<EitherBody<B>> {
    let handler_error = res
        .response()
        .error()
        .and_then(|e| e.as_error::<SessionError>())
        .map(|e| {
            e.0.log("session error returned by a handler");
            on_error(&e.0)
        });
    let commit = match commit {
        Ok(commit) => commit,
        Err(e) => {
            e.log("session commit failed");
            return res.into_response(on_error(&e)).map_into_right_body();
        }
    };
    let mut res = match handler_error {
        Some(replacement) => res.into_response(replacement).map_into_right_body(),
        None => res.map_into_left_body(),
    };
    if let Err(e) = commit.write_headers(&mut Headers(res.headers_mut())) {
        e.log("session headers refused");
        return res.into_response(on_error(&e)).map_into_right_body();
    }
    res
}

/// The lines of `manager`'s token header in `headers`, for
/// [`session_core::Session::present_token`].
pub(crate) fn token_lines<'h>(
    manager: &Manager,
    headers: &'h HeaderMap,
) -> impl Iterator<Item = &'h [u8]> {
    headers
        .get_all(manager.token_header())
        .map(|value| value.as_bytes())
}
