//! What the three adapters' demo apps (actix-web, axum, poem) share, so that each demo holds
//! only its framework's routing and handler glue.
//!
//! - [`run`]: the demo's `main` around the framework's server: [`settings`] from
//!   `--config FILE` and the `SESSION_*` environment, a [`Manager`](session_core::Manager) over
//!   the provider they name from [`registry`], a listener on `SESSION_DEMO_ADDR`, GC started
//!   and stopped, a Prometheus recorder installed ([`install_prometheus`]) for `GET /metrics`,
//!   and one clear error line with a failing exit code.
//! - [`contract`]: the handler logic of every route of the demo contract (the one the
//!   `http-scenarios` suite checks), against the framework-neutral session and flash handles,
//!   answering a neutral [`contract::Reply`].
//! - [`render_signup`]: the seed's signup page with minijinja, escaping message text.
//! - [`pages`]: the page set under `/app` (sign in with "remember me", who am I, flash
//!   messages, the user's devices with revoke buttons, sign out everywhere, sign out), plain
//!   HTML forms carrying the CSRF token, answered the same way as [`contract`]'s routes.
//!
//! # Design choices
//!
//! - **Framework types stay in the demos.** Nothing here names actix-web, axum or poem: each
//!   demo turns a [`contract::Reply`] into its response type in one small function, and a
//!   [`session_core::Error`] into its adapter's `SessionError`, so session failures still take
//!   each adapter's own error path (the thing the demos are there to show).
//! - **One behaviour, one place.** The three demos serve the same HTTP contract; when its
//!   logic lives here, a difference between them can only come from an adapter, which is what
//!   the shared scenario suite is meant to catch.
//! - **The provider list is written once**, in [`providers`]: each in-tree provider's name,
//!   how to register it, and where tests find a store for it (the xtask's conformance matrix
//!   reads it too). Each provider is behind the cargo feature of its name, all on by default;
//!   a crate that only tests with one backend turns the others off. Every provider built in is
//!   registered, so a demo can be pointed at any of them with `SESSION_PROVIDER`; registering
//!   connects to nothing.
//! - **Errors are for people**: `anyhow` chains that name the argument, file or variable at
//!   fault, printed as one line (`demo: applying SESSION_SECURE="maybe": ...`).
//! - `publish = false`: this is the demos' support code, not a library to build on.
//!
//! # Example
//!
//! A demo's `main` on a tokio-based framework (here a bare listener stands in for the
//! framework's server):
//!
//! ```no_run
//! use std::process::ExitCode;
//!
//! #[tokio::main]
//! async fn main() -> ExitCode {
//!     demo_support::run(|manager, listener| async move {
//!         let listener = tokio::net::TcpListener::from_std(listener)?;
//!         // axum::serve(listener, routes::app(manager))
//!         //     .with_graceful_shutdown(demo_support::shutdown_signal())
//!         //     .await?;
//!         let _ = (manager, listener);
//!         demo_support::shutdown_signal().await;
//!         Ok(())
//!     })
//!     .await
//! }
//! ```
//!
//! And a handler's glue (shown framework-free):
//!
//! ```
//! # use std::sync::Arc;
//! # use session_core::{Manager, Options, SystemClock};
//! # use session_memory::MemoryStore;
//! use demo_support::contract;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> session_core::Result<()> {
//! # let manager = Manager::with_store(
//! #     Options::default(),
//! #     Arc::new(MemoryStore::default()),
//! #     Arc::new(SystemClock),
//! # )?;
//! let session = manager.load([]);
//! let reply = contract::index(&session).await?;
//! assert_eq!((reply.status, reply.body.as_str()), (200, "session middleware"));
//! # Ok(())
//! # }
//! ```

pub mod contract;
mod metrics;
mod page;
pub mod pages;
mod providers;
mod run;
mod settings;

pub use metrics::{install_prometheus, prometheus_text};
pub use page::{SIGNUP_TEMPLATE, render_signup};
pub use providers::{Namespace, ProviderEntry, TestServer, TestStore, providers, registry};
pub use run::{run, run_with, shutdown_signal};
pub use settings::{DEFAULT_ADDR, Settings, USAGE, settings, settings_from};
