//! In-process session provider, and the worked example for provider authors.
//!
//! A provider is three small pieces, the same shape in every provider crate: a config type
//! (`FromStr` for the registry's config string, a struct for code), a [`RawStore`] with an
//! `open(config, &ProviderContext)` constructor (the I/O: read, insert-if-absent, conditional
//! save, touch, destroy, count, GC, owner index), and a [`Provider`] (a factory registered
//! by name that parses the string and calls `open`). All session logic lives in
//! `session-core`; this crate only keeps bytes. Read it before writing your own (`config.rs`: the config type
//! every provider offers; `store.rs`: the store), then run the conformance suite from your
//! tests with one call (see the `tests/` folder here).
//!
//! Design: sessions are spread over 64 shards, each behind its own `RwLock`, so requests on
//! different cores rarely contend (no global mutex). GC walks one shard at a time and yields
//! between shards, so it never stops the world. An optional capacity bounds memory: when full,
//! an insert first drops expired sessions of its shard, then the one closest to expiry.
//! Sessions live in this process only: use another provider when several instances serve
//! one site.
//!
//! # Operations
//!
//! | contract | memory |
//! |---|---|
//! | read, exist | a shard's read lock, a hash lookup |
//! | insert-if-absent, conditional save, touch, destroy | the shard's write lock; versions from one counter |
//! | count | yes: every shard's live records (`expires_at > now`) |
//! | owner index | yes: an in-memory owner → IDs map, re-checked against each record |
//! | gc | yes: one shard at a time, expired records only |
//!
//! # Config
//!
//! [`MemoryConfig`]: the config string is empty, or `capacity=N`; in code, a struct literal.
//! Through the registry:
//!
//! ```
//! use session_core::{Manager, Options, Registry};
//! use session_memory::MemoryProvider;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> session_core::Result<()> {
//! let registry = Registry::new().with(MemoryProvider)?;
//! let options = Options { provider_config: "capacity=100000".into(), ..Options::default() };
//! let manager = Manager::new(options, &registry).await?;
//! let session = manager.load([]);
//! session.set("answer", &42).await?;
//! assert!(session.commit().await?.set_cookie.is_some());
//! assert_eq!(manager.count().await?, 1);
//! # Ok(())
//! # }
//! ```
//!
//! In code, [`MemoryStore::open`] does what the registry does with the parsed string:
//!
//! ```
//! use std::num::NonZeroUsize;
//! use std::sync::Arc;
//! use session_core::{Manager, Options, ProviderContext, SystemClock};
//! use session_memory::{MemoryConfig, MemoryStore};
//!
//! # fn main() -> session_core::Result<()> {
//! let options = Options::default();
//! let ctx = ProviderContext {
//!     clock: Arc::new(SystemClock),
//!     max_record_size: options.max_record_size,
//!     max_lifetime_ms: options.idle_lifetime().as_millis() as i64,
//! };
//! let config = MemoryConfig { capacity: NonZeroUsize::new(100_000) };
//! let store = MemoryStore::open(config, &ctx)?;
//! let manager = Manager::with_store(options, Arc::new(store), ctx.clock.clone())?;
//! # let _ = manager;
//! # Ok(())
//! # }
//! ```

mod config;
mod store;

use std::sync::Arc;

use async_trait::async_trait;
use session_core::{Provider, ProviderContext, RawStore, Result};

pub use config::MemoryConfig;
pub use store::MemoryStore;

const NAME: &str = "memory";

/// The `"memory"` provider factory: parses the config string into a [`MemoryConfig`] and
/// opens a [`MemoryStore`].
#[derive(Debug, Default, Clone, Copy)]
pub struct MemoryProvider;

#[async_trait]
impl Provider for MemoryProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn open(&self, config: &str, ctx: &ProviderContext) -> Result<Arc<dyn RawStore>> {
        Ok(Arc::new(MemoryStore::open(config.parse()?, ctx)?))
    }
}
