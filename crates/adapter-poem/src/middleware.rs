//! The middleware: load before the handler, commit after it.

use std::sync::Arc;

use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use session_core::Manager;

use crate::error::{ErrorHook, SessionError, default_error_response};

/// poem middleware that gives every request a [`session_core::Session`] and a
/// [`session_flash::Flash`].
///
/// Per request: the `Cookie` headers (and the token header when the manager's transport is
/// not `cookie`; a per-route transport override reads it for its endpoints) go to
/// [`Manager::load_http`] (lazy: no
/// provider call until the handler touches the session); the session and one shared flash handle go into the request
/// extensions for the [`crate::Session`] and [`crate::Flash`] extractors; the endpoint runs;
/// the session is committed. On success the response gets what core's
/// [`Commit::write_headers`](session_core::Commit::write_headers) asks for (a `Set-Cookie`
/// with `Cache-Control: no-store` and `Vary: Cookie`, or under the header transport the
/// token header with its `Cache-Control` and `Vary`). On failure the response is replaced by
/// the [`ErrorHook`]'s, without any `Set-Cookie`, so an outage never replaces the client's ID.
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
    /// adds no `Set-Cookie` to it when the commit failed.
    pub fn on_error(
        mut self,
        hook: impl Fn(&session_core::Error) -> Response + Send + Sync + 'static,
    ) -> Self {
        self.on_error = Arc::new(hook);
        self
    }

    /// The manager sessions come from.
    pub fn manager(&self) -> &Manager {
        &self.manager
    }
}

impl<E: Endpoint> Middleware<E> for SessionMiddleware {
    type Output = SessionEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        SessionEndpoint {
            inner,
            manager: self.manager.clone(),
            on_error: self.on_error.clone(),
        }
    }
}

/// The endpoint [`SessionMiddleware`] wraps around the application.
pub struct SessionEndpoint<E> {
    inner: E,
    manager: Manager,
    on_error: ErrorHook,
}

impl<E: Endpoint> Endpoint for SessionEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let session = self.manager.load_http(req.headers());
        if self.manager.options().device_metadata {
            // The TCP peer: no forwarded header is trusted.
            let peer = req.remote_addr().as_socket_addr().map(|addr| addr.ip());
            let agent = req.headers().get(poem::http::header::USER_AGENT);
            session.present_client(agent.map(poem::http::HeaderValue::as_bytes), peer);
        }
        // poem extractors only see `&Request`, so the flash handle is made here, once: it is
        // cheap (no provider call until used) and every extraction then shares it.
        req.extensions_mut()
            .insert(session_flash::Flash::new(session.clone()));
        req.extensions_mut().insert(session.clone());

        let result = self.inner.call(req).await;

        let commit = match session.commit().await {
            Ok(commit) => commit,
            Err(e) => {
                e.log("session commit failed");
                return Ok((self.on_error)(&e));
            }
        };
        let mut response = match result {
            Ok(output) => output.into_response(),
            Err(error) => match error.downcast_ref::<SessionError>() {
                Some(SessionError(e)) => {
                    e.log("session error returned by a handler");
                    (self.on_error)(e)
                }
                // Other errors stay errors for outer middleware (`catch_error`, ...) unless a
                // cookie or a token must ride on them.
                None if !commit.sets_cookie() && !commit.sends_token() => return Err(error),
                None => error.into_response(),
            },
        };
        if let Err(e) = commit.write_headers(response.headers_mut()) {
            e.log("session headers refused");
            return Ok((self.on_error)(&e));
        }
        Ok(response)
    }
}
