//! memcached session provider (registry name `"memcache"`).
//!
//! Sessions are memcached items under a key prefix; core's record body travels in the
//! item value behind a small header (format, `expires_at`, owner). Every operation of the
//! provider contract maps onto one native memcached primitive:
//!
//! | contract | memcached |
//! |---|---|
//! | read | `mg <key> v c` (value + CAS) |
//! | insert-if-absent | `ms` in add mode: never overwrites |
//! | conditional save | `ms` with `C<cas>`; the **CAS value is the version** |
//! | touch | `mg` + `ms C<cas>` rewriting the header's `expires_at` (bounded retries) |
//! | destroy | `md` |
//! | gc | yes: `lru_crawler metadump`, then `md C<cas>` of records expired by core's clock |
//! | count, owner index | no: [`Error::Unsupported`](session_core::Error::Unsupported) |
//!
//! # Why the experimental `memcache::exp` client
//!
//! The `memcache` crate ships two clients. The stable `memcache::Client` is blocking (every
//! call would need `spawn_blocking`), and its CAS surface cannot carry this contract: `cas`
//! answers a bare `bool` that is `false` both for "the CAS differs" and "the key is gone"
//! (core must tell a conflict from a destroyed session), and no store returns the new CAS,
//! so a save could not report its new version without another read. Its r2d2 pool also
//! never notices a broken connection, and socket timeouts are set only on the connections
//! that exist when the client is built. The experimental `exp::AsyncMetaClient` speaks the
//! meta protocol natively from tokio: `ms` reports `Applied` / `CasMismatch` / `NotFound` /
//! `AlreadyExists` as values and returns the new CAS (`c` flag) in the same round trip,
//! connections are dialed lazily, a pooled connection closed by a restarted server is
//! detected before reuse, and every exchange has a deadline. Its API may change between
//! minor releases; the workspace pins `0.21`. It needs memcached 1.6 or newer.
//!
//! # Touch and `expires_at`
//!
//! Core reads `expires_at` from the record and never trusts a backend TTL, so a bare
//! memcached `touch` (TTL only) would leave the stored expiry stale and core would drop an
//! active session. Touch therefore reads the item with its CAS, rewrites the 8-byte expiry
//! in the header and writes it back with `C<cas>`; if a concurrent write wins the race it
//! rereads and retries (at most 5 times), and stops early when that write already pushed
//! the expiry as far. A touch changes the CAS, so a request that loaded the session before
//! the touch gets a conflict on save and replays its changes on the fresh record (core's
//! normal path): nothing is lost.
//!
//! # Lifetimes and sizes
//!
//! TTLs are whole seconds rounded up from core's `ttl_ms`. memcached reads a TTL above 30
//! days (2,592,000 s) as an absolute Unix time; the client sends such lifetimes as absolute
//! times, so a long "remember me" does not expire at once (as it did in Macaron). Items
//! have a size limit (memcached's `-I`, 1 MiB by default): a record that would not fit is
//! refused before any I/O with [`Error::TooLarge`](session_core::Error::TooLarge), never
//! truncated. The check reserves room for the header (11 bytes), the key and memcached's
//! per-item overhead (64 bytes), so with the default 1 MiB record limit the last ~120 bytes
//! of it cannot be used; start memcached with a larger `-I` and set `max_item_size` to match
//! if that matters.
//!
//! # GC and count
//!
//! memcached expires items itself, and core checks `expires_at` on every load anyway. GC
//! still removes records that are expired by core's clock but not yet by memcached's (see
//! the `crawl` module docs: a conditional delete per record, never one refreshed
//! meanwhile). It walks every item on the server, so run it rarely. `count` is
//! unsupported: memcached has no consistent key listing, and a crawler dump per call would
//! be an O(all items) scan.
//!
//! # Config
//!
//! [`MemcacheConfig`], built in code or parsed from the config string, and handed to
//! [`MemcacheStore::open`]. In the string, items are separated by `;` (Macaron) or `,`, each
//! a server or an option:
//!
//! - `127.0.0.1:11211;10.0.0.2:11211` (Macaron's list; the port defaults to 11211),
//! - `memcache://host:port?prefix=app:&timeout_ms=500`,
//! - `prefix=` (default `session:`; printable ASCII without spaces, at most 122 bytes so
//!   every key stays within memcached's 250),
//! - `timeout_ms=` (connect and per-exchange deadline, default 1000),
//! - `max_item_size=` (bytes, default 1048576; memcached's `-I`).
//!
//! An empty string means `127.0.0.1:11211`. An unknown option is a config error naming it.
//! Several servers share keys by rendezvous hashing.
//!
//! # Example
//!
//! ```no_run
//! use session_core::{Manager, Options, Registry};
//! use session_memcache::MemcacheProvider;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> session_core::Result<()> {
//! let registry = Registry::new().with(MemcacheProvider)?;
//! let options = Options {
//!     provider: "memcache".into(),
//!     provider_config: "127.0.0.1:11211;prefix=myapp:sess:".into(),
//!     ..Options::default()
//! };
//! let manager = Manager::new(options, &registry).await?;
//! let session = manager.load([]);
//! session.set("user", "gopher").await?;
//! assert!(session.commit().await?.set_cookie.is_some());
//! # Ok(())
//! # }
//! ```

mod config;
mod crawl;
mod record;
mod store;

use std::sync::Arc;

use async_trait::async_trait;
use session_core::{Provider, ProviderContext, RawStore, Result};

pub use config::MemcacheConfig;
pub use store::MemcacheStore;

/// The registry name.
pub const NAME: &str = "memcache";

/// The `"memcache"` provider factory: parses the config string into a [`MemcacheConfig`] and
/// opens a [`MemcacheStore`].
#[derive(Debug, Default, Clone, Copy)]
pub struct MemcacheProvider;

#[async_trait]
impl Provider for MemcacheProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn open(&self, config: &str, ctx: &ProviderContext) -> Result<Arc<dyn RawStore>> {
        Ok(Arc::new(MemcacheStore::open(config.parse()?, ctx).await?))
    }
}
