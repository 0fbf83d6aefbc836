//! actix-web adapter for `session-core`: a middleware plus [`Session`] and [`Flash`]
//! extractors.
//!
//! This crate is a translation layer and holds no session logic: the middleware hands the
//! request's `Cookie` headers to [`session_core::Manager::load`], puts the lazy
//! [`session_core::Session`] in the request extensions, runs the handler, calls
//! [`session_core::Session::commit`], and sends the `Set-Cookie` core returns.
//!
//! # Design choices
//!
//! - **Headers as strings.** actix-web 4 uses `http` 0.2 and `cookie` 0.16 internally, while
//!   core speaks `cookie` 0.18. The adapter only moves header strings across, so the two never
//!   meet.
//! - **Core decides what the response carries** ([`session_core::response`], the same for
//!   every adapter): the session `Set-Cookie` with `Cache-Control: no-store` and
//!   `Vary: Cookie`, so no cache can hand one user's session ID to another; the status,
//!   message and log level of an error. This crate only copies that into actix-web's types.
//! - **Failures.** If the commit fails, the response is replaced by the error hook's (by
//!   default core's answer: [`session_core::Error::http_status`], 503 for backend failures,
//!   413 for a record over `max_record_size`, 500 for bugs, with
//!   [`session_core::Error::public_message`]; replace it with [`SessionMiddleware::on_error`])
//!   and carries **no** `Set-Cookie`: an outage must never replace or remove the client's ID. A handler returning [`SessionError`]
//!   (what `?` makes of a [`session_core::Error`]) gets the same hook, so both paths look
//!   alike.
//! - **Commit after every handler**, whatever its status: what a handler changed before
//!   answering 4xx or 5xx (a failed-login counter, a flash) is kept. An inner middleware that
//!   fails with an `Err` instead of a response leaves nothing to set a cookie on, so that
//!   request is not committed.
//! - **Threads.** actix runs one single-threaded runtime per worker and handler futures need
//!   not be `Send`; the session handle is `Clone + Send + Sync` anyway, so it can be moved into
//!   `tokio::spawn`ed tasks or held across `.await`.
//! - **One flash per request.** The [`Flash`] extractor keeps its handle in the request
//!   extensions, so "show now" messages added by a handler are seen when the page renders.
//!
//! # Example
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use adapter_actix::{Session, SessionError, SessionMiddleware};
//! use session_core::{Manager, Options, Registry};
//! use session_memory::MemoryProvider;
//!
//! async fn index(session: Session) -> Result<String, SessionError> {
//!     session.set("session", "session middleware").await?;
//!     Ok(session.get::<String>("session").await?.unwrap_or_default())
//! }
//!
//! #[actix_web::main]
//! async fn main() -> anyhow::Result<()> {
//!     let registry = Registry::new().with(MemoryProvider)?;
//!     let manager = Manager::new(Options::default(), &registry).await?;
//!     let _gc = manager.start_gc();
//!     HttpServer::new(move || {
//!         App::new()
//!             .wrap(SessionMiddleware::new(manager.clone()))
//!             .route("/", web::get().to(index))
//!     })
//!     .bind("127.0.0.1:8080")?
//!     .run()
//!     .await?;
//!     Ok(())
//! }
//! ```
//!
//! # When the store is down
//!
//! By default a route whose session cannot be read answers 503 (core's
//! [`OutagePolicy::Fail`](session_core::OutagePolicy::Fail)). Public pages can keep serving
//! instead: wrapped in [`OutagePolicyMiddleware`] with
//! [`OutagePolicy::Anonymous`](session_core::OutagePolicy::Anonymous), a scope or resource
//! sees an empty, read-only session (the visitor looks signed out), writes are refused with
//! [`session_core::Error::Degraded`] (503 if the handler passes it on), nothing is stored and
//! no `Set-Cookie` is sent, so the client keeps its ID for when the store is back. The
//! manager's default is [`Options::outage_policy`](session_core::Options::outage_policy);
//! the middleware overrides it where it wraps. See [`session_core::outage`].
//!
//! ```
//! use actix_web::{App, test, web};
//! use adapter_actix::{OutagePolicyMiddleware, Session, SessionError, SessionMiddleware};
//! use session_core::{Manager, Options, OutagePolicy, SystemClock};
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
//! # #[actix_web::main]
//! # async fn main() -> anyhow::Result<()> {
//! # let store = std::sync::Arc::new(session_memory::MemoryStore::default());
//! let manager = Manager::with_store(Options::default(), store, std::sync::Arc::new(SystemClock))?;
//! let app = test::init_service(
//!     App::new()
//!         .wrap(SessionMiddleware::new(manager))
//!         // The rest answers 503 while the store is down (the default).
//!         .route("/account", web::get().to(account))
//!         // The public pages keep serving through an outage.
//!         .service(
//!             web::scope("/public")
//!                 .wrap(OutagePolicyMiddleware::new(OutagePolicy::Anonymous))
//!                 .route("", web::get().to(greeting)),
//!         ),
//! )
//! .await;
//! let response = test::call_service(&app, test::TestRequest::get().uri("/public").to_request()).await;
//! assert_eq!(response.status(), 200);
//! # Ok(())
//! # }
//! ```
//!
//! # Header tokens and CSRF
//!
//! Scopes and resources wrapped in [`TransportMiddleware`] take the session ID from a header
//! instead of the cookie ([`session_core::transport`]: `Authorization: Bearer <token>` in, a
//! new token in `Session-Token` out, an empty `Session-Token` when the session ends, never a
//! cookie). Those wrapped in [`CsrfMiddleware`] answer 403 to unsafe methods that do not
//! carry the session's CSRF token ([`session_core::csrf`]) in `X-CSRF-Token` or a
//! `csrf_token` form field.
//!
//! ```
//! use actix_web::http::StatusCode;
//! use actix_web::{App, HttpResponse, test, web};
//! use adapter_actix::{CsrfMiddleware, Session, SessionError, SessionMiddleware, TransportMiddleware};
//! use session_core::{Manager, Options, SystemClock};
//!
//! async fn login(session: Session) -> Result<HttpResponse, SessionError> {
//!     session.regenerate().await?;
//!     session.set("uid", "ada").await?;
//!     Ok(HttpResponse::NoContent().finish())
//! }
//!
//! async fn save() -> HttpResponse {
//!     HttpResponse::NoContent().finish()
//! }
//!
//! # #[actix_web::main]
//! # async fn main() -> anyhow::Result<()> {
//! # let store = std::sync::Arc::new(session_memory::MemoryStore::default());
//! let manager = Manager::with_store(Options::default(), store, std::sync::Arc::new(SystemClock))?;
//! let app = test::init_service(
//!     App::new()
//!         .wrap(SessionMiddleware::new(manager))
//!         .service(
//!             web::scope("/api")
//!                 .wrap(TransportMiddleware::header())
//!                 .route("/login", web::post().to(login)),
//!         )
//!         .service(
//!             web::resource("/settings")
//!                 .wrap(CsrfMiddleware::new())
//!                 .route(web::post().to(save)),
//!         ),
//! )
//! .await;
//! let post = |uri| test::TestRequest::post().uri(uri).to_request();
//! let response = test::call_service(&app, post("/api/login")).await;
//! assert!(response.headers().contains_key("session-token"));
//! assert!(!response.headers().contains_key("set-cookie"));
//! let response = test::call_service(&app, post("/settings")).await;
//! assert_eq!(response.status(), StatusCode::FORBIDDEN);
//! # Ok(())
//! # }
//! ```
//!
//! # Network stores: open them on the worker
//!
//! actix-web serves requests on worker threads, each with its own single-threaded runtime,
//! while `#[actix_web::main]` runs `main` on another one. A provider that talks to a server
//! (redis, memcache, postgres, ...) has its connections driven by tasks on the runtime that
//! opened it. Open such a [`Manager`](session_core::Manager) in `main` and every round trip
//! to the store also wakes the main thread: CPU time on another core and a cross-thread
//! hand-off per call (BENCHMARKS.md has the cost with redis).
//!
//! So open it on each worker. The `HttpServer::new` factory runs on the worker but cannot
//! await; a middleware, though, is built asynchronously on the worker
//! ([`Transform::new_transform`](actix_web::dev::Transform::new_transform)), so a small
//! wrapper can open the manager there. Each worker then has its own manager and connections.
//! An in-process store (the memory provider) stays in `main`, as in the example above, shared
//! by all workers: opened per worker, each worker would see only its own sessions.
//!
//! ```no_run
//! use std::future::Future;
//! use std::pin::Pin;
//!
//! use actix_web::dev::{ServiceRequest, Transform};
//! use actix_web::{App, HttpServer, web};
//! use adapter_actix::{Session, SessionError, SessionMiddleware};
//! use session_core::{Manager, Options, Registry};
//! # /*
//! use session_redis::RedisProvider;
//! # */
//!
//! /// A middleware that the worker running it builds with `open`, once, as it starts.
//! struct OnWorker<F>(F);
//!
//! impl<S, F, Fut, M> Transform<S, ServiceRequest> for OnWorker<F>
//! where
//!     F: Fn() -> Fut,
//!     Fut: Future<Output = anyhow::Result<M>> + 'static,
//!     M: Transform<S, ServiceRequest, InitError = ()> + 'static,
//!     S: 'static,
//! {
//!     type Response = M::Response;
//!     type Error = M::Error;
//!     type Transform = M::Transform;
//!     type InitError = ();
//!     type Future = Pin<Box<dyn Future<Output = Result<M::Transform, ()>>>>;
//!
//!     fn new_transform(&self, service: S) -> Self::Future {
//!         let open = (self.0)();
//!         Box::pin(async move {
//!             // A store that cannot be opened stops the worker; `HttpServer::run` then fails.
//!             let middleware = open
//!                 .await
//!                 .map_err(|e| eprintln!("cannot open the session store: {e:#}"))?;
//!             middleware.new_transform(service).await
//!         })
//!     }
//! }
//!
//! async fn sessions() -> anyhow::Result<SessionMiddleware> {
//! # /*
//!     let registry = Registry::new().with(RedisProvider)?;
//! # */
//! # let _ = Registry::new;
//! # let registry = demo_support::registry()?;
//!     let options = Options {
//!         provider: "redis".into(),
//!         provider_config: "addr=127.0.0.1:6379".into(),
//!         ..Options::default()
//!     };
//!     Ok(SessionMiddleware::new(Manager::new(options, &registry).await?))
//! }
//!
//! async fn index(session: Session) -> Result<String, SessionError> {
//!     let visits = session.get::<u64>("visits").await?.unwrap_or(0) + 1;
//!     session.set("visits", &visits).await?;
//!     Ok(visits.to_string())
//! }
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     HttpServer::new(|| {
//!         App::new()
//!             .wrap(OnWorker(sessions))
//!             .route("/", web::get().to(index))
//!     })
//!     .bind("127.0.0.1:8080")?
//!     .run()
//!     .await
//! }
//! ```

mod csrf;
mod error;
mod extract;
mod headers;
mod middleware;
mod outage;
mod route;
mod transport;

pub use csrf::{CsrfMiddleware, CsrfService};
pub use error::{ErrorHook, SessionError, default_error_response};
pub use extract::{Flash, Session};
pub use middleware::{ResponseFuture, SessionMiddleware, SessionService};
pub use outage::{OutagePolicyMiddleware, OutagePolicyService};
pub use route::{PerRouteMiddleware, PerRouteService};
pub use transport::{TransportMiddleware, TransportService};
