//! poem adapter for `session-core`: a middleware plus [`Session`] and [`Flash`] extractors.
//!
//! This crate is a translation layer and holds no session logic: the middleware hands the
//! request's `Cookie` headers to [`session_core::Manager::load`], puts the lazy
//! [`session_core::Session`] in the request extensions, runs the endpoint, calls
//! [`session_core::Session::commit`], and sends the `Set-Cookie` core returns.
//!
//! # Design choices
//!
//! - **Core decides what the response carries** ([`session_core::response`], the same for
//!   every adapter): the session `Set-Cookie` with `Cache-Control: no-store` and
//!   `Vary: Cookie`, so no cache can hand one user's session ID to another; the status,
//!   message and log level of an error. This crate only copies that into poem's types.
//! - **Failures.** If the commit fails, the response is replaced by the error hook's (by
//!   default core's answer: [`session_core::Error::http_status`], 503 for backend failures,
//!   413 for a record over `max_record_size`, 500 for bugs, with
//!   [`session_core::Error::public_message`]; replace it with [`SessionMiddleware::on_error`])
//!   and carries **no** `Set-Cookie`: an outage must never replace or remove the client's ID. A handler returning [`SessionError`]
//!   (what `?` makes of a [`session_core::Error`]) gets the same hook, so both paths look
//!   alike.
//! - **Other errors stay errors.** A [`poem::Error`] that is not a session error is passed on
//!   as an `Err` for outer middleware such as `catch_error`, unless a session cookie must be
//!   sent with it; then it becomes its response, with the cookie.
//! - **Commit after every endpoint**, whatever its status: what a handler changed before
//!   answering 4xx or 5xx (a failed-login counter, a flash) is kept.
//! - **Threads.** poem runs on tokio's multi-threaded runtime and its futures are `Send`; the
//!   session handle is `Clone + Send + Sync`, may be held across `.await` and moved into
//!   `tokio::spawn`ed tasks.
//! - **One flash per request**, created by the middleware (poem extractors only see
//!   `&Request`) without any provider call, so "show now" messages added by a handler are
//!   seen when the page renders.
//!
//! # When the store is down
//!
//! By default an endpoint whose session cannot be read answers 503 (core's
//! [`OutagePolicy::Fail`](session_core::OutagePolicy::Fail)). Public pages can keep serving
//! instead: wrapped in [`OutagePolicyMiddleware`] with
//! [`OutagePolicy::Anonymous`](session_core::OutagePolicy::Anonymous), an endpoint sees an
//! empty, read-only session (the visitor looks signed out), writes are refused with
//! [`session_core::Error::Degraded`] (503 if the handler passes it on), nothing is stored and
//! no `Set-Cookie` is sent, so the client keeps its ID for when the store is back. The
//! manager's default is [`Options::outage_policy`](session_core::Options::outage_policy);
//! the middleware overrides it for the endpoint it wraps. See [`session_core::outage`].
//!
//! ```
//! use adapter_poem::{OutagePolicyMiddleware, Session, SessionError, SessionMiddleware};
//! use poem::http::Uri;
//! use poem::{Endpoint as _, EndpointExt, Request, Route, get, handler};
//! use session_core::{Manager, Options, OutagePolicy, SystemClock};
//!
//! #[handler]
//! async fn greeting(session: Session) -> Result<String, SessionError> {
//!     let user = session.get::<String>("uid").await?;
//!     Ok(format!("hello, {}", user.as_deref().unwrap_or("visitor")))
//! }
//!
//! #[handler]
//! async fn account(session: Session) -> Result<String, SessionError> {
//!     Ok(session.get::<String>("uid").await?.unwrap_or_default())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> anyhow::Result<()> {
//! # let store = std::sync::Arc::new(session_memory::MemoryStore::default());
//! let manager = Manager::with_store(Options::default(), store, std::sync::Arc::new(SystemClock))?;
//! let app = Route::new()
//!     // The public page keeps serving through an outage.
//!     .at("/", get(greeting).with(OutagePolicyMiddleware::new(OutagePolicy::Anonymous)))
//!     // The rest answers 503 while the store is down (the default).
//!     .at("/account", get(account))
//!     .with(SessionMiddleware::new(manager));
//! let response = app
//!     .get_response(Request::builder().uri(Uri::from_static("/")).finish())
//!     .await;
//! assert_eq!(response.status(), 200);
//! # Ok(())
//! # }
//! ```
//!
//! # Header tokens and CSRF
//!
//! Endpoints wrapped in [`TransportMiddleware`] take the session ID from a header instead
//! of the cookie ([`session_core::transport`]: `Authorization: Bearer <token>` in, a new
//! token in `Session-Token` out, an empty `Session-Token` when the session ends, never a
//! cookie). Endpoints wrapped in [`CsrfMiddleware`] answer 403 to unsafe methods that do not
//! carry the session's CSRF token ([`session_core::csrf`]) in `X-CSRF-Token` or a
//! `csrf_token` form field.
//!
//! ```
//! use adapter_poem::{CsrfMiddleware, Session, SessionError, SessionMiddleware, TransportMiddleware};
//! use poem::http::{Method, StatusCode, Uri};
//! use poem::{Endpoint as _, EndpointExt, Request, Route, get, handler, post};
//! use session_core::{Manager, Options, SystemClock};
//!
//! #[handler]
//! async fn login(session: Session) -> Result<StatusCode, SessionError> {
//!     session.regenerate().await?;
//!     session.set("uid", "ada").await?;
//!     Ok(StatusCode::NO_CONTENT)
//! }
//!
//! #[handler]
//! async fn save() -> StatusCode {
//!     StatusCode::NO_CONTENT
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> anyhow::Result<()> {
//! # let store = std::sync::Arc::new(session_memory::MemoryStore::default());
//! let manager = Manager::with_store(Options::default(), store, std::sync::Arc::new(SystemClock))?;
//! let app = Route::new()
//!     .at("/api/login", post(login).with(TransportMiddleware::header()))
//!     .at("/settings", post(save).with(CsrfMiddleware::new()))
//!     .with(SessionMiddleware::new(manager));
//!
//! let request = |method, uri| Request::builder().method(method).uri(Uri::from_static(uri)).finish();
//! let response = app.get_response(request(Method::POST, "/api/login")).await;
//! assert!(response.headers().contains_key("session-token"));
//! assert!(!response.headers().contains_key("set-cookie"));
//! let response = app.get_response(request(Method::POST, "/settings")).await;
//! assert_eq!(response.status(), StatusCode::FORBIDDEN);
//! # Ok(())
//! # }
//! ```
//!
//! # Example
//!
//! ```no_run
//! use adapter_poem::{Session, SessionError, SessionMiddleware};
//! use poem::listener::TcpListener;
//! use poem::{EndpointExt, Route, Server, get, handler};
//! use session_core::{Manager, Options, Registry};
//! use session_memory::MemoryProvider;
//!
//! #[handler]
//! async fn index(session: Session) -> Result<String, SessionError> {
//!     session.set("session", "session middleware").await?;
//!     Ok(session.get::<String>("session").await?.unwrap_or_default())
//! }
//!
//! #[tokio::main]
//! async fn main() -> anyhow::Result<()> {
//!     let registry = Registry::new().with(MemoryProvider)?;
//!     let manager = Manager::new(Options::default(), &registry).await?;
//!     let _gc = manager.start_gc();
//!     let app = Route::new()
//!         .at("/", get(index))
//!         .with(SessionMiddleware::new(manager));
//!     Server::new(TcpListener::bind("127.0.0.1:8080")).run(app).await?;
//!     Ok(())
//! }
//! ```

mod csrf;
mod error;
mod extract;
mod middleware;
mod outage;
mod route;
mod transport;

pub use csrf::{CsrfEndpoint, CsrfMiddleware};
pub use error::{ErrorHook, SessionError, default_error_response};
pub use extract::{Flash, Session};
pub use middleware::{SessionEndpoint, SessionMiddleware};
pub use outage::{OutagePolicyEndpoint, OutagePolicyMiddleware};
pub use route::{PerRouteEndpoint, PerRouteMiddleware};
pub use transport::{TransportEndpoint, TransportMiddleware};
