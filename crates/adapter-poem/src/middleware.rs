//! The middleware: load before the handler, commit after it.

use std::sync::Arc;

use poem::http::header::{CACHE_CONTROL, COOKIE, SET_COOKIE, VARY};
use poem::http::{HeaderMap, HeaderValue};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use session_core::Manager;

use crate::error::{ErrorHook, SessionError, default_error_response};

/// poem middleware that gives every request a [`session_core::Session`] and a
/// [`session_flash::Flash`].
///
/// Per request: the `Cookie` headers go to [`Manager::load`] (lazy: no provider call until the
/// handler touches the session); the session and one shared flash handle go into the request
/// extensions for the [`crate::Session`] and [`crate::Flash`] extractors; the endpoint runs;
/// the session is committed. On success the `Set-Cookie` core asks for is appended with
/// `Cache-Control: no-store` and `Vary: Cookie`. On failure the response is replaced by the
/// [`ErrorHook`]'s, without any `Set-Cookie`, so an outage never replaces the client's ID.
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
        let session = self
            .manager
            .load_bytes(req.headers().get_all(COOKIE).iter().map(|v| v.as_bytes()));
        // poem extractors only see `&Request`, so the flash handle is made here, once: it is
        // cheap (no provider call until used) and every extraction then shares it.
        req.extensions_mut()
            .insert(session_flash::Flash::new(session.clone()));
        req.extensions_mut().insert(session.clone());

        let result = self.inner.call(req).await;

        let commit = match session.commit().await {
            Ok(commit) => commit,
            Err(e) => {
                log_failure(&e);
                return Ok((self.on_error)(&e));
            }
        };
        let mut response = match result {
            Ok(output) => output.into_response(),
            Err(error) => match error.downcast_ref::<SessionError>() {
                Some(SessionError(e)) => {
                    log_failure(e);
                    (self.on_error)(e)
                }
                // Other errors stay errors for outer middleware (`catch_error`, ...) unless a
                // cookie must ride on them.
                None if commit.set_cookie.is_none() => return Err(error),
                None => error.into_response(),
            },
        };
        if let Some(set_cookie) = commit.set_cookie {
            match HeaderValue::try_from(set_cookie) {
                Ok(value) => mark_set_cookie(response.headers_mut(), value),
                Err(_) => {
                    // Core validates cookie names, paths and domains at config time, so this
                    // means a bug; never send a broken header.
                    let e = session_core::Error::config(
                        "cookie",
                        "Set-Cookie is not a valid header value",
                    );
                    log_failure(&e);
                    return Ok((self.on_error)(&e));
                }
            }
        }
        Ok(response)
    }
}

/// Adds the session cookie and the headers that keep shared caches from storing it.
fn mark_set_cookie(headers: &mut HeaderMap, value: HeaderValue) {
    headers.append(SET_COOKIE, value);
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let varies = headers.get_all(VARY).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',')
                .any(|h| h.trim() == "*" || h.trim().eq_ignore_ascii_case("cookie"))
        })
    });
    if !varies {
        headers.append(VARY, HeaderValue::from_static("Cookie"));
    }
}

fn log_failure(error: &session_core::Error) {
    if error.is_backend() {
        tracing::warn!(error = %error, "session failed: provider unavailable");
    } else {
        tracing::error!(error = %error, "session failed");
    }
}
