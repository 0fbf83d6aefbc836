//! Framework-neutral server-side HTTP sessions.
//!
//! `session-core` is the heart of the workspace: [`Options`] (Macaron's `session.Options`
//! with secure defaults), validated [`SessionId`]s, the provider contract ([`RawStore`] and
//! [`Provider`]), the provider [`Registry`], the [`Manager`] that runs the request lifecycle,
//! the per-request [`Session`] handle, the [`record`] codec and optional [`encryption`] of
//! records at rest. It knows no web framework: an adapter hands it the request's `Cookie`
//! header values and sends the `Set-Cookie` it returns.
//!
//! What the lifecycle guarantees, for every provider:
//!
//! - **Lazy**: a request that never touches its session costs no provider call.
//! - **Strict**: an unknown, expired or malformed ID is never adopted; the client gets a new ID,
//!   and only once the session holds data (no record and no cookie before that).
//! - **No lost updates**: only changed sessions are written, with a conditional save; on a
//!   conflict this request's changes are replayed on the latest record.
//! - **No resurrection**: after `destroy` or `regenerate`, no write can bring the old ID back.
//! - **Typed errors**: a backend failure is an [`Error`], never mistaken for "unknown session".
//!   Routes that should keep serving through an outage run under [`OutagePolicy::Anonymous`]
//!   instead: an empty read-only session, writes refused, nothing stored, no cookie sent
//!   ([`outage`]).
//! - **Cookie or header**: the ID travels in the session cookie, or for APIs in a request
//!   header (`Authorization: Bearer`, new tokens back in `Session-Token`), per manager or per
//!   route, never falling back silently from one to the other ([`transport`]).
//! - **A user's devices**: the live sessions of an owner with created / last seen (and,
//!   opt-in, user agent and network), revocable by an opaque handle, and an optional cap
//!   on sessions per owner ([`devices`]).
//! - **CSRF tokens tied to the session**, off unless used: [`Session::csrf_token`],
//!   [`Session::verify_csrf`], rotated by [`Session::regenerate`] ([`csrf`]).
//!
//! # Example
//!
//! A provider, a manager, and one request from the adapter's point of view:
//!
//! ```
//! use std::sync::Arc;
//! use session_core::{Manager, Options, SystemClock};
//! use session_memory::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> session_core::Result<()> {
//! // Normally: Manager::new(options, &registry) with a registry of provider crates.
//! let store = Arc::new(MemoryStore::default());
//! let manager = Manager::with_store(Options::default(), store, Arc::new(SystemClock))?;
//!
//! // First request: no cookie. The handler stores a value.
//! let session = manager.load([]);
//! session.set("user", "gopher").await?;
//! let commit = session.commit().await?;
//! let set_cookie = commit.set_cookie.expect("a new session sets its cookie");
//!
//! // Next request: the browser sends the cookie back.
//! let session = manager.load([set_cookie.as_str()]);
//! assert_eq!(session.get::<String>("user").await?.as_deref(), Some("gopher"));
//! assert_eq!(session.commit().await?.set_cookie, None);
//! # Ok(())
//! # }
//! ```

pub mod backend;
pub mod clock;
mod commit;
pub mod config_string;
pub mod cookies;
pub mod csrf;
pub mod devices;
pub mod encryption;
pub mod error;
pub mod events;
pub mod id;
pub mod lifetime;
mod load;
pub mod manager;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(not(feature = "metrics"))]
#[path = "metrics/disabled.rs"]
mod metrics;
pub mod migrating;
pub mod options;
pub mod outage;
mod protect;
pub mod record;
pub mod registry;
pub mod response;
pub mod rotation;
pub mod route;
pub mod session;
pub mod store;
pub mod transport;
mod values;
mod working;
pub mod wrapper;

#[cfg(feature = "conformance")]
pub mod conformance;

/// The body type of [`Stored`], re-exported so providers need no `bytes` dependency of their own.
pub use backend::Backend;
pub use bytes::Bytes;
pub use clock::{Clock, Millis, MockClock, SystemClock};
pub use devices::{Device, DeviceHandle, OwnerLimitPolicy};
pub use encryption::{Encrypted, EncryptionKeys};
pub use error::{BoxError, Error, Result};
pub use events::{Event, EventHook};
pub use id::SessionId;
pub use lifetime::SessionLifetime;
pub use load::SessionData;
pub use manager::{GcHandle, Manager};
pub use migrating::{Migrating, MoveOn};
pub use options::{Options, SameSite, SigningKeys};
pub use outage::OutagePolicy;
pub use registry::Registry;
pub use response::{HeaderName, ResponseHeaders};
pub use route::RouteSetting;
pub use session::{Commit, MAX_OWNER_LEN, Session};
pub use store::{
    Capabilities, Inserted, MAX_INDEX_SLACK_MS, Moved, Provider, ProviderContext, RawStore, Saved,
    Stored, Version, Write, index_slack,
};
pub use transport::{TokenHeaders, Transport};
pub use wrapper::Wrapper;
