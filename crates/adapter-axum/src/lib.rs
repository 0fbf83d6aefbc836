//! axum / tower adapter for `session-core`: a [`SessionLayer`], [`Session`] and [`Flash`]
//! extractors, and per-route layers for the outage policy, the transport and CSRF.
//!
//! This crate only translates between HTTP and core: it hands the request's `Cookie` headers
//! to [`session_core::Manager::load`] and sends the `Set-Cookie` that
//! [`session_core::Session::commit`] returns. Every session rule (lazy loading, strict IDs,
//! conflict-free saves, regenerate and destroy, cookie attributes) lives in core, so this
//! adapter behaves exactly like the actix-web and poem ones; the shared `http-scenarios` suite
//! checks that over real TCP.
//!
//! # Quick start
//!
//! ```no_run
//! use adapter_axum::{Session, SessionError, SessionLayer};
//! use axum::{Router, routing::get};
//! use session_core::{Manager, Options, Registry};
//! use session_memory::MemoryProvider;
//!
//! async fn index(session: Session) -> Result<String, SessionError> {
//!     session.set("session", "session middleware").await?;
//!     Ok(session.get::<String>("session").await?.unwrap_or_default())
//! }
//!
//! #[tokio::main]
//! async fn main() -> anyhow::Result<()> {
//!     let registry = Registry::new().with(MemoryProvider)?;
//!     let manager = Manager::new(Options::default(), &registry).await?;
//!     let _gc = manager.start_gc(); // GC runs until this handle is dropped
//!     let app = Router::new()
//!         .route("/", get(index))
//!         .layer(SessionLayer::new(manager));
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! # When the store is down
//!
//! By default a route whose session cannot be read answers 503 (core's
//! [`OutagePolicy::Fail`](session_core::OutagePolicy::Fail)). Public pages can keep serving
//! instead: under [`OutagePolicyLayer`] with
//! [`OutagePolicy::Anonymous`](session_core::OutagePolicy::Anonymous) the handler sees an empty,
//! read-only session (the visitor looks signed out), writes are refused with
//! [`session_core::Error::Degraded`] (503 if the handler passes it on), nothing is stored and
//! no `Set-Cookie` is sent, so the client keeps its ID for when the store is back. The
//! manager's default is [`Options::outage_policy`](session_core::Options::outage_policy);
//! the layer overrides it for the routes it wraps. See [`session_core::outage`].
//!
//! ```
//! use adapter_axum::{OutagePolicyLayer, Session, SessionError, SessionLayer};
//! use axum::{Router, body::Body, http::Request, routing::get};
//! use session_core::{Manager, Options, OutagePolicy, SystemClock};
//! use tower::ServiceExt as _;
//!
//! async fn greeting(session: Session) -> Result<String, SessionError> {
//!     let user = session.get::<String>("uid").await?;
//!     Ok(format!("hello, {}", user.as_deref().unwrap_or("visitor")))
//! }
//!
//! async fn account(session: Session) -> Result<String, SessionError> {
//!     Ok(session.get::<String>("uid").await?.unwrap_or_default())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> anyhow::Result<()> {
//! # let store = std::sync::Arc::new(session_memory::MemoryStore::default());
//! let manager = Manager::with_store(Options::default(), store, std::sync::Arc::new(SystemClock))?;
//! // Public pages keep serving through an outage; the rest answers 503 (the default).
//! let public = Router::new()
//!     .route("/", get(greeting))
//!     .layer(OutagePolicyLayer::new(OutagePolicy::Anonymous));
//! let app = Router::new()
//!     .route("/account", get(account))
//!     .merge(public)
//!     .layer(SessionLayer::new(manager));
//!
//! let response = app.oneshot(Request::get("/").body(Body::empty())?).await?;
//! assert_eq!(response.status(), 200);
//! # Ok(())
//! # }
//! ```
//!
//! # Header tokens and CSRF
//!
//! Routes under [`TransportLayer`] take the session ID from a header instead of the cookie
//! ([`session_core::transport`]: `Authorization: Bearer <token>` in, a new token in
//! `Session-Token` out, an empty `Session-Token` when the session ends, never a cookie).
//! Routes under [`CsrfLayer`] answer 403 to unsafe methods that do not carry the session's
//! CSRF token ([`session_core::csrf`]) in `X-CSRF-Token` or a `csrf_token` form field.
//!
//! ```
//! use adapter_axum::{CsrfLayer, Session, SessionError, SessionLayer, TransportLayer};
//! use axum::http::{Request, StatusCode};
//! use axum::{Router, body::Body, routing::post};
//! use session_core::{Manager, Options, SystemClock};
//! use tower::ServiceExt as _;
//!
//! async fn login(session: Session) -> Result<StatusCode, SessionError> {
//!     session.regenerate().await?;
//!     session.set("uid", "ada").await?;
//!     Ok(StatusCode::NO_CONTENT)
//! }
//!
//! async fn save() -> StatusCode {
//!     StatusCode::NO_CONTENT
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> anyhow::Result<()> {
//! # let store = std::sync::Arc::new(session_memory::MemoryStore::default());
//! let manager = Manager::with_store(Options::default(), store, std::sync::Arc::new(SystemClock))?;
//! let api = Router::new()
//!     .route("/api/login", post(login))
//!     .layer(TransportLayer::header());
//! let guarded = Router::new()
//!     .route("/settings", post(save))
//!     .layer(CsrfLayer::new());
//! let app = api.merge(guarded).layer(SessionLayer::new(manager));
//!
//! let response = app.clone().oneshot(Request::post("/api/login").body(Body::empty())?).await?;
//! assert!(response.headers().contains_key("session-token"));
//! assert!(!response.headers().contains_key("set-cookie"));
//! let response = app.oneshot(Request::post("/settings").body(Body::empty())?).await?;
//! assert_eq!(response.status(), StatusCode::FORBIDDEN);
//! # Ok(())
//! # }
//! ```
//!
//! # Design choices
//!
//! - **Commit after the handler, in the layer.** The handler never calls `commit`; the layer
//!   does it once the response is built, then writes the headers core's response rule asks
//!   for ([`session_core::response`], the same for every adapter): `Set-Cookie` with
//!   `Cache-Control: no-store` (a cached response must not hand one user's session to
//!   another) and `Vary: Cookie`.
//! - **Errors never touch the cookie.** When the commit fails (the backend is down, a record
//!   is over `max_record_size`, or a handler swallowed a backend error, which core remembers),
//!   the response is replaced by the error hook's and carries no `Set-Cookie`: a client whose
//!   session could not be read keeps its ID and finds its data once the backend is back. The
//!   default hook is core's answer, shared by every adapter
//!   ([`session_core::Error::http_status`]: 503 for backend errors, 413 for an oversized
//!   record, 500 for bugs, with [`session_core::Error::public_message`]), logged at core's
//!   [`session_core::Error::log_level`]; replace it with [`SessionLayer::on_error`].
//! - **`?` in handlers.** [`SessionError`] wraps [`session_core::Error`] and implements
//!   `IntoResponse`; the layer recognises it in the response and runs the same error hook,
//!   so one custom error page covers handler and commit errors.
//! - **Changes made before a handler error are still committed.** A handler that regenerated
//!   the ID and then failed must still send the new cookie, or the client would be left with a
//!   deleted ID.
//! - **A missing layer is loud.** Extracting [`Session`] on a route without the layer is a
//!   500 whose body and log line say to add the layer, not a silent empty session.
//! - **The extractor is a handle.** [`Session`] derefs to [`session_core::Session`], which is
//!   cheap to clone and usable across `.await` and in spawned tasks of the request.

mod csrf;
mod error;
mod extract;
mod layer;
mod outage;
mod route;
mod transport;

pub use csrf::{CsrfLayer, CsrfService};
pub use error::{ErrorHook, SessionError, default_error_response};
pub use extract::{Flash, MissingSessionLayer, Session};
pub use layer::{ResponseFuture, SessionLayer, SessionService};
pub use outage::{OutagePolicyLayer, OutagePolicyService};
pub use route::{PerRouteLayer, PerRouteService};
pub use transport::{TransportLayer, TransportService};
