//! Embedded session provider on sled (registry name `"ledis"`).
//!
//! Macaron's `ledis` provider kept sessions in an embedded LedisDB under a data directory;
//! this one keeps them in an embedded sled 0.34 database, so a single-instance site needs no
//! server. (sled 0.34.7 is the last stable release; the 1.0 alphas change the on-disk
//! format.)
//!
//! # Operations
//!
//! | contract | ledis (sled) |
//! |---|---|
//! | read, exist | a point lookup in `sessions` |
//! | insert-if-absent, conditional save, touch, destroy | `compare_and_swap` on the record under the writer lock, then a flush |
//! | count | yes: an in-memory record counter minus the expired entries of the expiry index |
//! | owner index | yes: the `owners` tree, each entry checked against its record |
//! | gc | yes: the expiry index up to `now`, each record's current expiry checked before deleting |
//!
//! # Layout
//!
//! Three trees per namespace (`db=N` selects the namespace: trees are named `db<N>.*`):
//!
//! - `sessions`: ID → header (format, version, `expires_at`, owner) + body;
//! - `expiry`: `[expires_at, big-endian, sign-flipped][ID]` → nothing. Sorted by time, so
//!   GC reads the range `..=now` and never looks at a live session;
//! - `owners`: `owner \0 ID` → nothing, the owner index.
//!
//! # Writes: one writer lock and compare-and-swap, not sled transactions
//!
//! sled 0.34's multi-tree transactions (and `apply_batch`) take a process-wide write lock
//! that can deadlock against concurrent flushes. So every write is a short sequence of single-key operations under a per-store mutex (held only around the
//! synchronous sled calls, never across an `.await`), and the record itself is written with
//! `compare_and_swap` against the exact bytes read: insert-if-absent is a swap from `None`,
//! a conditional save first checks the version in the header. sled's directory lock
//! guarantees this store is the only writer, so the mutex serializes all writers.
//!
//! Crash safety without multi-key atomicity comes from ordering: index entries for the new
//! state are written *before* the record and the old ones removed *after* it, so a crash in
//! between leaves an extra index entry, never a record the index misses. GC and count treat
//! the index as a pointer and check every entry against its record.
//!
//! Versions come from sled's persistent ID generator, so they are never reused, even across
//! restarts. Touch rewrites only the expiry (and its index entry) and keeps the version.
//!
//! # GC and count
//!
//! GC reads the expiry index up to `now` in batches of 128 and, under the writer lock,
//! re-reads each record and deletes it (compare-and-swap against the bytes just read) only if
//! its *current* expiry is still `<= now`: a session refreshed after the index was read is
//! kept. The lock is released between batches, and the pass runs on the blocking pool.
//!
//! `count` is `records − expired`: a record counter kept in memory — counted once when the
//! store opens (one key scan, next to sled's own log recovery), then exact because every
//! successful create and delete is a single atomic swap — minus the expiry entries in
//! `..=now` that still match their record. That is O(expired-but-not-yet-collected), which
//! GC keeps small, instead of O(live) for counting `(now, ∞)` or O(n) for sled's `len()`.
//! An in-memory counter cannot drift across crashes the way a persisted one updated
//! outside a transaction could. The result is exact for a quiescent store; with writes in
//! flight it counts one of the states they pass through.
//!
//! # Durability
//!
//! Every write (insert, save, touch, destroy, regenerate, a GC that removed something)
//! waits for a flush — sled's log written and fsynced — before it returns, so a save that
//! returned survives `kill -9` or a power cut (tested by killing a writer process). The cost
//! is one fsync per write; concurrent flushes share the log writes. The flush is sled's
//! blocking `flush()` on tokio's blocking pool: `flush_async()` runs on sled's own small I/O
//! pool, which also performs the log writes it waits for, so enough concurrent calls can
//! occupy every pool thread and deadlock. Reads never flush.
//!
//! # One owner per directory
//!
//! sled locks its directory. A second store in this process opening the same `data_dir` gets
//! [`Error::Config`](session_core::Error::Config) naming `data_dir` and saying the directory
//! is in use; a directory locked by another process is retried for 5 s first (a process just
//! killed holds the lock until the kernel has torn it down, and a restart must not fail on
//! that), then refused the same way. Use one manager per directory, or a shared provider
//! (redis, postgres, ...) when several processes serve a site. A new directory is created
//! with mode 0700.
//!
//! # Blocking
//!
//! sled's API is synchronous. Point operations take microseconds and run inline on the async
//! task; opening (log recovery and the record count), flushes and GC run in
//! `spawn_blocking`.
//!
//! # Config
//!
//! [`LedisConfig`], built in code or parsed from the config string, and handed to
//! [`LedisStore::open`]. The string is Macaron's `data_dir=./data/sessions,db=0`, or a bare
//! path (`./data/sessions`, no `=`). Empty means `data/ledis`, db 0. An unknown key is a
//! config error naming it.
//!
//! # Example
//!
//! ```
//! use session_core::{Manager, Options, Registry};
//! use session_ledis::LedisProvider;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> session_core::Result<()> {
//! # let dir = tempfile::tempdir().map_err(|e| session_core::Error::backend("test", e))?;
//! # let data_dir = dir.path().join("sessions");
//! let registry = Registry::new().with(LedisProvider)?;
//! let options = Options {
//!     provider: "ledis".into(),
//!     provider_config: format!("data_dir={},db=0", data_dir.display()),
//!     ..Options::default()
//! };
//! let manager = Manager::new(options, &registry).await?;
//! let session = manager.load([]);
//! session.set("user", "gopher").await?;
//! assert!(session.commit().await?.set_cookie.is_some());
//! assert_eq!(manager.count().await?, 1);
//! # Ok(())
//! # }
//! ```

mod config;
mod record;
mod store;

use std::sync::Arc;

use async_trait::async_trait;
use session_core::{Provider, ProviderContext, RawStore, Result};

pub use config::LedisConfig;
pub use store::LedisStore;

/// The registry name.
pub const NAME: &str = "ledis";

/// The `"ledis"` provider factory: parses the config string into a [`LedisConfig`] and opens a
/// [`LedisStore`].
#[derive(Debug, Default, Clone, Copy)]
pub struct LedisProvider;

#[async_trait]
impl Provider for LedisProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn open(&self, config: &str, ctx: &ProviderContext) -> Result<Arc<dyn RawStore>> {
        Ok(Arc::new(LedisStore::open(config.parse()?, ctx).await?))
    }
}
