//! Flash messages stored in the server-side session.
//!
//! Macaron's flash, with its four levels (`success`, `error`, `info`, `warning`) and its
//! "show now" flag, for any web framework: this crate depends on `session-core` only, and each
//! adapter offers a [`Flash`] extractor built on it.
//!
//! # Semantics
//!
//! - `flash.success("saved")` queues a message for the **next** request that reads flashes; it
//!   is shown there once and then gone. `flash.success_now("saved")` (or [`Show::Now`]) shows
//!   it in the **current** response only and never stores it.
//! - **Reading consumes**: [`Flash::view`] / [`Flash::messages`] return what earlier requests
//!   queued plus this request's "show now" messages, and remove the queued ones from the
//!   session. A request that does not read leaves them queued, so a message survives any
//!   number of redirects and API calls until a page shows it.
//! - Messages a request queues for the next one are never shown by that same request, even if
//!   it reads flashes afterwards (as in Macaron, where they went to the next request's cookie).
//! - Several messages per level keep their order. Bounds: at most [`MAX_MESSAGES`] queued
//!   messages and [`MAX_MESSAGE_BYTES`] bytes of text per message; beyond them the **oldest
//!   message is dropped first** and over-long text is cut at a character boundary.
//!
//! # Design choices
//!
//! - **Server side, tamper-proof.** Macaron kept flashes in an unsigned `macaron_flash`
//!   cookie that any client could forge. Here they live in the session under the reserved key
//!   [`SESSION_KEY`], so a client can neither forge nor read them, and no cookie grows.
//! - **Failures are typed.** Flash reads and writes go through the [`Session`](session_core::Session), so a provider
//!   outage is a [`session_core::Error`] (the adapter answers 503), never silently lost messages.
//!   A stored queue that does not decode is read as empty and overwritten, with a warning, so a
//!   format change cannot break every page.
//! - **Text is data.** The [`FlashView`] holds plain strings, never marked safe: an
//!   autoescaping template engine escapes them.
//! - **Concurrency.** The handle is `Clone + Send + Sync` and may be used across `.await`.
//!   Two concurrent requests of one session that both change the queue write it as a whole;
//!   the later commit wins (core replays per key), which can drop a message in that race.
//!
//! # Templates
//!
//! [`FlashView`] serializes with the seed's four fields, so the seed's template keeps its
//! meaning (each field shows the **latest** message of its level; the full lists are
//! `SuccessMsgs`, ..., and `Messages`):
//!
//! ```text
//! <h2>{{ Flash.SuccessMsg }}</h2>
//! <h2>{{ Flash.ErrorMsg }}</h2>
//! <h2>{{ Flash.InfoMsg }}</h2>
//! <h2>{{ Flash.WarningMsg }}</h2>
//! ```
//!
//! # Example
//!
//! Two requests driven by hand, as an adapter would:
//!
//! ```
//! use std::sync::Arc;
//! use session_core::{Manager, Options, SystemClock};
//! use session_flash::Flash;
//! use session_memory::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> session_core::Result<()> {
//! let manager = Manager::with_store(
//!     Options::default(),
//!     Arc::new(MemoryStore::default()),
//!     Arc::new(SystemClock),
//! )?;
//!
//! // POST /signup: queue a message for the next page, show another one now.
//! let session = manager.load([]);
//! let flash = Flash::new(session.clone());
//! flash.success("Welcome!").await?;
//! flash.info_now("Processing...");
//! assert_eq!(flash.view().await?.info_msg, "Processing...");
//! let cookie = session.commit().await?.set_cookie.expect("the session now holds data");
//!
//! // GET /home: the message is shown once...
//! let session = manager.load([cookie.as_str()]);
//! let view = Flash::new(session.clone()).view().await?;
//! assert_eq!(view.success_msg, "Welcome!");
//! session.commit().await?;
//!
//! // ...and is gone on the request after.
//! let session = manager.load([cookie.as_str()]);
//! assert!(Flash::new(session.clone()).view().await?.is_empty());
//! # Ok(())
//! # }
//! ```

mod flash;
mod message;
mod view;

pub use flash::{Flash, SESSION_KEY};
pub use message::{Level, MAX_MESSAGE_BYTES, MAX_MESSAGES, Message, Show, UnknownLevel};
pub use view::FlashView;
