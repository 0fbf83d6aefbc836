//! Couchbase session provider (registry name `"couchbase"`), on the official `couchbase` SDK
//! 1.x (pure Rust, async).
//!
//! Each session is one document, `PREFIX + ID` (prefix `session:` by default), in a bucket's
//! default collection or a named one.
//!
//! # Operations
//!
//! | contract | couchbase |
//! |---|---|
//! | read | `get` (the CAS is the version) |
//! | insert-if-absent | `insert` |
//! | conditional save | `replace` with the CAS |
//! | touch | `get`, then `replace` with that CAS (bounded retries) |
//! | destroy | `remove` |
//! | count, owner index, gc | no: [`Unsupported`](session_core::Error::Unsupported) (see below) |
//!
//! # Design
//!
//! - **Document**: a 9-byte header (format tag, expiry in ms) and core's encoded record, stored
//!   as raw binary with the SDK's binary flags. Not JSON: the record is already encoded, and
//!   base64 inside JSON would cost a third more space and a decode per read for nothing, as
//!   nothing ever queries sessions. The expiry is inside the document because core checks it
//!   on every load; the document's TTL is set too (rounded up to whole seconds), so Couchbase
//!   deletes expired sessions by itself. TTLs of 30 days or more go out as absolute Unix
//!   times (the SDK converts them, and the server reads values above 30 days as absolute), so
//!   long lifetimes work.
//! - **Versions are CAS values.** Read is `get` (the CAS is the version); insert-if-absent is
//!   `insert` (`DocumentExists` is [`Inserted::Exists`](session_core::Inserted::Exists));
//!   conditional save is `replace` with the CAS (`CasMismatch` is a conflict, `DocumentNotFound`
//!   is missing, and a replace never creates, so a destroyed session is not brought back);
//!   destroy is `remove`.
//! - **Touch** must change the expiry inside the document, which Couchbase's TOUCH cannot:
//!   it is a `get` and a `replace` under that CAS, retried (at most 8 times) when a concurrent
//!   write got in between.
//! - **Count, owner index and GC are [`Unsupported`](session_core::Error::Unsupported)**: the
//!   key-value API cannot list keys (SDK 1.1 has no range scan; only SQL++ with an index
//!   could), and Couchbase already deletes each expired document at its TTL, so there is
//!   nothing for a GC task to do: do not start one with this provider.
//! - **Every call is bounded.** The SDK retries many failures on its own, for ever in some
//!   cases (a refused login, an unreachable node, TMPFAIL), so `Cluster::connect`, the first
//!   operation and every operation run under `tokio::time::timeout`. Reaching a bound is a
//!   [`Error::Backend`](session_core::Error::Backend), like every other backend failure, so
//!   adapters answer 503 and never replace the client's cookie.
//! - The store connects when the manager is created and proves the collection answers with
//!   one `get`, so a wrong address, password, bucket or collection fails at startup, not on
//!   the first request.
//!
//! # Config
//!
//! [`CouchbaseConfig`], built in code or parsed from the config string, and handed to
//! [`CouchbaseStore::open`]. The string is either a URL, or the form Macaron's couchbase
//! provider took (see [`CouchbaseConfig`] for details):
//!
//! ```text
//! couchbase://app:secret@127.0.0.1:11210/sessions?scope=web&collection=sessions&prefix=session:&timeout=5s
//! http://app:secret@db.local:8091/,default,sessions
//! ```
//!
//! Keys: `scope`, `collection`, `prefix`, `timeout` (per operation, default 5 s),
//! `connect_timeout` (default 15 s). Any other key is a config error that names it.
//!
//! # Testing
//!
//! No Couchbase Server can be installed where this workspace is built, so CI runs these tests
//! (the whole conformance suite, outages, TMPFAIL, 60-day TTLs) against
//! `couchbase-testserver`, a protocol-level Couchbase data-service server kept in this
//! repository and driven here through the real SDK. To run the same suite against a real
//! cluster, set `COUCHBASE_URL` (e.g. `couchbase://10.0.0.5:11210`), `COUCHBASE_USERNAME`,
//! `COUCHBASE_PASSWORD` and `COUCHBASE_BUCKET` before `cargo test -p session-couchbase`; each
//! case then uses a fresh key prefix in that bucket's default collection.
//!
//! # Example
//!
//! ```no_run
//! use session_core::{Manager, Options, Registry};
//! use session_couchbase::CouchbaseProvider;
//!
//! # async fn run() -> session_core::Result<()> {
//! let registry = Registry::new().with(CouchbaseProvider)?;
//! let options = Options {
//!     provider: "couchbase".into(),
//!     provider_config: "couchbase://app:secret@127.0.0.1:11210/sessions?timeout=2s".into(),
//!     ..Options::default()
//! };
//! let manager = Manager::new(options, &registry).await?;
//! let session = manager.load([]);
//! session.set("user", "gopher").await?;
//! let set_cookie = session.commit().await?.set_cookie;
//! assert!(set_cookie.is_some());
//! # Ok(())
//! # }
//! ```

mod config;
mod document;
mod store;

use std::sync::Arc;

use async_trait::async_trait;
use session_core::{Provider, ProviderContext, RawStore, Result};

pub use config::CouchbaseConfig;
pub use store::{CouchbaseStore, TimedOut};

/// The registry name.
const NAME: &str = "couchbase";

/// The `"couchbase"` provider factory: parses the config string into a [`CouchbaseConfig`]
/// and opens a [`CouchbaseStore`].
#[derive(Debug, Default, Clone, Copy)]
pub struct CouchbaseProvider;

#[async_trait]
impl Provider for CouchbaseProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn open(&self, config: &str, ctx: &ProviderContext) -> Result<Arc<dyn RawStore>> {
        Ok(Arc::new(CouchbaseStore::open(config.parse()?, ctx).await?))
    }
}
