//! File session provider (`"file"`): one file per session under a root directory.
//!
//! The provider Macaron's `file` store was, rebuilt so that concurrent requests and several
//! processes can share the directory without losing or tearing sessions.
//!
//! # Config
//!
//! [`FileConfig`]. The config string is the root directory, as in Macaron (`data/sessions`,
//! the default when the string is empty), or `key=value` pairs:
//! `root=/var/lib/app/sessions,orphan_grace=600` (see `FromStr` for [`FileConfig`]). An
//! unknown key is an [`Error::Config`](session_core::Error) naming it. In code,
//! [`FileConfig::new`] or a struct literal, then [`FileStore::open`]. The root is created
//! with mode 0700 when missing; an existing root that is world-writable, or not a directory,
//! is refused at open with a config error.
//!
//! # Layout
//!
//! ```text
//! root/
//!   3/f/                      x/y: the first two characters of the session ID (mode 0700)
//!     .lock                   advisory lock file of this directory (0600)
//!     3f9c…e1                 one session file per ID (0600)
//!     .3f9c…e1.<random>.tmp   a write in progress (or orphaned by a crash)
//!   owners/<sha256(owner)>/   owner index: one empty marker file per session ID
//! ```
//!
//! IDs reach the provider only as validated [`SessionId`](session_core::SessionId)s
//! (lowercase hex of a fixed length), so a path can never be smuggled in. Below the root
//! the tree is the provider's own: a symlink where an `x/y` directory, a session file, a lock
//! file or a marker should be is refused with a backend error (files are opened with
//! `O_NOFOLLOW`, directories checked with `lstat`), never followed and never read as
//! "no session".
//!
//! # File format
//!
//! A 34-byte header, then the owner and the body core handed over:
//!
//! ```text
//! "RSSF" | format 1 | flags (bit 0: owner) | version u64 LE | expires_at i64 LE (ms)
//!        | owner_len u32 LE | body_len u64 LE | owner (UTF-8) | body
//! ```
//!
//! Reading checks the magic, format, flags, both lengths (the body against the record size
//! limit, the owner against 64 KiB; a longer owner is refused on write with
//! [`Error::TooLarge`](session_core::Error)) and the file size before allocating anything. A file
//! that does not parse (truncated, garbage, trailing bytes) is logged with the ID redacted and
//! treated as absent everywhere: `read` and `exist` report no session, `insert` replaces it,
//! GC removes it once it is older than the grace period. Nothing here panics on any input.
//!
//! # Durability
//!
//! Files are never rewritten in place. A write goes to a temporary file in the same
//! directory, which is `fsync`ed and `rename`d over the session file; then the directory is
//! `fsync`ed so the rename survives a crash. Readers see the old file or the new one, never a
//! torn one (Macaron truncated and rewrote in place, which produced `unexpected EOF` under
//! load). Destroys are made durable the same way, so a destroyed session cannot come back
//! after a power loss.
//!
//! # Locking and versions
//!
//! Every read-modify-write (insert-if-absent, conditional save, touch, destroy, GC deletion)
//! holds an exclusive `flock` on the `.lock` file of the session's `x/y` directory. `flock`
//! belongs to the open file, so threads, stores and processes sharing the directory all
//! exclude each other. Plain reads take no lock: the rename makes them consistent. A new
//! record gets a random version ([`Version::random`](session_core::Version::random)) and
//! every save adds one, which is what the conditional save compares; `touch` rewrites the expiry only and keeps the version, so it never makes a
//! concurrent save conflict.
//!
//! All blocking I/O runs on tokio's blocking pool (`spawn_blocking`): a tokio runtime is
//! required, and a slow disk never stalls the async workers.
//!
//! # Operations
//!
//! | contract | file |
//! |---|---|
//! | read, exist | open and parse the session file, no lock |
//! | insert-if-absent, conditional save, touch, destroy | the directory's `flock`, then write a temporary file and `rename` (destroy: `unlink`) |
//! | count | yes: a walk of the tree reading every header |
//! | owner index | yes: marker files under `owners/`, re-checked against each header |
//! | gc | yes: a walk of the tree, expired records deleted under the lock after a second check |
//!
//! # GC, count and the owner index
//!
//! GC walks the tree one `x/y` directory at a time, each in its own blocking call. It reads
//! headers without the lock, then takes the directory's lock only to delete what it found
//! expired, after checking the expiry again, so a session refreshed meanwhile survives. It
//! also removes temporary files and corrupt session files whose modification time is older
//! than the grace period (10 minutes by default), and stale owner markers. A missing root is
//! not an error; an error on one entry is logged and the walk goes on.
//!
//! `count` walks the tree too and reads every header: fine for the session counts a single
//! machine serves, but it is O(sessions) per call.
//!
//! The owner index ("log out everywhere") keeps one marker per session under the hash of its
//! owner; listing checks each marker against the owner in the session's header and drops
//! stale ones.
//!
//! # Where it fits
//!
//! One machine, or several sharing a POSIX file system whose `flock` works across clients
//! (a local disk, NFSv4 with working locks). On a file system without working `flock`,
//! concurrent writers from different machines could lose updates: use a database provider.
//!
//! # Example
//!
//! ```
//! use session_core::{Manager, Options, Registry};
//! use session_file::FileProvider;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> session_core::Result<()> {
//! # let dir = tempfile::tempdir().map_err(|e| session_core::Error::backend("file", e))?;
//! # let root = dir.path().join("sessions");
//! let registry = Registry::new().with(FileProvider)?;
//! let options = Options {
//!     provider: "file".into(),
//!     provider_config: format!("root={}", root.display()),
//!     ..Options::default()
//! };
//! let manager = Manager::new(options, &registry).await?;
//!
//! let session = manager.load([]);
//! session.set("user", "gopher").await?;
//! let cookie = session.commit().await?.set_cookie.expect("a new session sets its cookie");
//!
//! let session = manager.load([cookie.as_str()]);
//! assert_eq!(session.get::<String>("user").await?.as_deref(), Some("gopher"));
//! assert_eq!(manager.count().await?, 1);
//! # Ok(())
//! # }
//! ```

mod config;
mod disk;
mod format;
mod gc;
mod owners;
mod store;

use std::sync::Arc;

use async_trait::async_trait;
use session_core::{Provider, ProviderContext, RawStore, Result};

pub use config::{DEFAULT_ORPHAN_GRACE, DEFAULT_ROOT, FileConfig, MIN_ORPHAN_GRACE};
pub use store::FileStore;

/// The `"file"` provider factory: parses the config string and opens a [`FileStore`].
#[derive(Debug, Default, Clone, Copy)]
pub struct FileProvider;

#[async_trait]
impl Provider for FileProvider {
    fn name(&self) -> &'static str {
        disk::NAME
    }

    async fn open(&self, config: &str, ctx: &ProviderContext) -> Result<Arc<dyn RawStore>> {
        Ok(Arc::new(FileStore::open(config.parse()?, ctx).await?))
    }
}
