//! Redis session provider (`"redis"`): single server, Redis Cluster and Sentinel.
//!
//! # Config
//!
//! [`RedisConfig`], parsed from Macaron's forms or the client's URL form, or built in code and
//! handed to [`RedisStore::open`]:
//!
//! | form | example |
//! |---|---|
//! | positional | `127.0.0.1:6379,100,password` (address, pool size, password) |
//! | key=value | `network=tcp,addr=:6379,password=macaron,db=0,pool_size=100,idle_timeout=180,prefix=session:` |
//! | sentinel | `ha_mode=sentinel,master_name=mymaster,sentinel_addrs=10.0.0.1:26379\|10.0.0.2:26379,password=pw` |
//! | cluster | `cluster=true,addrs=127.0.0.1:7100\|127.0.0.1:7101\|127.0.0.1:7102` (or `ha_mode=cluster`) |
//! | URL | `redis://user:pw@host:6379/0?prefix=app:` (cluster: `?cluster=true&addrs=h2:p\|h3:p`) |
//! | near cache | `addr=127.0.0.1:6379,near_cache=1000` (see [Near cache](#near-cache); any form) |
//!
//! An unknown key is a config error naming it. `pool_size` and `idle_timeout` are accepted and
//! validated for compatibility but have no effect: the store uses one multiplexed, pipelining
//! connection (per cluster node), which needs no pool and has no idle connections to reap.
//! `dial_timeout`, `read_timeout` and `write_timeout` set the connect and answer timeouts.
//!
//! This build has no TLS: `rediss://` and `tls=true` are config errors saying so. Macaron's
//! `tls` option turned certificate verification off; that is deliberately not carried over.
//!
//! # Layout
//!
//! Every key starts with the prefix (default `session:`; `{` and `}` are refused in it):
//!
//! - `session:{<id>}`: one string per session, a small header then the body: a format byte
//!   (so a later version can tell layouts apart), the version (8 bytes), `expires_at` (8
//!   bytes), the owner (shard byte, length byte, bytes), then core's encoded body. Its Redis
//!   TTL is core's `ttl_ms` (`SET ... PX`), so Redis frees abandoned sessions by itself; the
//!   stored `expires_at` is what core checks, so a backend clock never decides.
//! - `session:{index:NN..}`: 16 index shards, sorted sets of IDs scored by expires_at
//!   (possibly lagging by up to the slack, see below); a session's shard is a hash of its ID.
//!   `count` is `ZCOUNT (now +inf` on every shard plus a record check of the entries in the
//!   slack window below `now` (no keyspace scan, no other application's keys), so its cost
//!   grows with the sessions whose score falls in the last 60 s, not with all sessions. GC
//!   walks the shards' entries whose score is `<= now`.
//! - `session:{index:NN..}:owner:<owner>`: one owner's sessions, in the shard of the owner's
//!   hash.
//!
//! The `{...}` hash tags keep each session's key in one cluster slot and each index shard
//! (with the owner sets in it) in another. The 16 shard tags are chosen so their slots fall
//! one in each sixteenth of the slot space: on a cluster with evenly split slots every
//! master holds index shards in proportion to its slots (three masters: 5, 6 and 5), so
//! adding masters adds index write capacity. Versions are random 64-bit values, so a
//! destroyed and re-created key never matches a stale version.
//!
//! # One round trip per operation
//!
//! Read is one `GET`; exist one `EXISTS`. Insert-if-absent, conditional save (version
//! compare), touch (expiry only, data untouched), destroy and count are each one Lua script
//! (`EVALSHA`; scripts are loaded when the store opens); on a cluster, the index updates
//! follow in other slots (see below). Regenerate is core's conditional
//! move (insert the new ID, retire the old one by a conditional save, delete it), which works
//! across cluster slots (Macaron's `RENAME` did not).
//!
//! | contract | redis |
//! |---|---|
//! | read, exist | `GET`, `EXISTS` |
//! | insert-if-absent, conditional save, touch, destroy | one script each; saves compare the stored version |
//! | count | yes: `ZCOUNT` on every index shard plus a record check of the slack window |
//! | owner index | yes: a set per owner, every listed session re-checked against its record |
//! | gc | yes: the index shards up to `now`, each record's stored expiry checked again before deleting |
//!
//! # Commands per operation
//!
//! Inside Redis (`INFO commandstats` counts a script's `EVALSHA` and every command it runs),
//! on a single server or Sentinel:
//!
//! | operation | commands inside Redis |
//! |---|---|
//! | read | `GET` |
//! | save, expiry in the same slack bucket, owner unchanged | `EVALSHA`, `GETRANGE` (19 header bytes plus the owner), `SET ... PX` |
//! | save that moves the expiry into the next bucket | the above plus `ZADD` and `PTTL` on the index shard (and on the owner's set) |
//! | save that changes the owner | the above plus `ZREM` from the old owner's set, `ZADD` + `ZREMRANGEBYSCORE` + `PTTL` on the new one's |
//! | insert | `EVALSHA`, `SET ... PX NX`, `ZADD`, `PTTL` (plus the owner's set) |
//! | touch | `EVALSHA`, `PEXPIRE`, `SETRANGE` (the expiry in the header), `GETRANGE` (the owner), `ZADD`, `PTTL` (plus the owner's set) |
//! | destroy | `EVALSHA`, `GETRANGE` (the owner), `DEL`, `ZREM` (and `ZREM` from the owner's set) |
//!
//! A write request that changes data costs 4 (core's `GET`, then `EVALSHA`, `GETRANGE`,
//! `SET`). The index is written only when the expiry crosses a multiple of the *slack* (or
//! moves backwards), and the owner index only when the owner changed. The slack is a tenth
//! of the idle lifetime, at most 60 s (core's touch interval is never longer), so an index
//! score lags its record by less than that. GC re-reads every record's stored expiry before
//! deleting, `count` checks the entries in the 60 s below `now` against their records, and
//! `owner_sessions` re-checks every record it lists, so the lag never drops a live session
//! and never counts a dead one; at worst GC visits a live session's entry early and raises
//! its score.
//!
//! Why not the 2 commands (`GET` + `SET`) of tower-sessions or actix-session: theirs are blind
//! overwrites, where of two concurrent requests changing one session the last one silently
//! undoes the other's change. A conditional save has to compare the version and write in one
//! atomic step; Redis 7 offers that only as a script or `WATCH`/`MULTI`/`EXEC`, and counts the
//! `EVALSHA` plus the read of the header and the write inside it (details in `scripts.rs`).
//!
//! # Consistency of the index
//!
//! On a single server (and with Sentinel) each script updates the record and the index in
//! one atomic step, so `count` and `owner_sessions` are exact. On a cluster the index shards
//! sit in other slots than the session, and a Lua script cannot touch two slots, so a write
//! that changes what the index holds (an insert, a touch, a save that moves the expiry into
//! another bucket or changes the owner) is followed by the index updates on the shard and
//! the owner sets (each in its own slot, all in flight at once; such writes cost two round
//! trips there, reads and other saves one). An insert on a cluster is a plain
//! `SET ... PX NX` followed by those. Between the two, and if the second one fails (logged as
//! a warning; the session operation itself still succeeds), the index lags: a new session
//! can be missing from `count` until a touch or a write that moves its expiry into another
//! bucket re-adds it, and a session destroyed concurrently with a write to it can be counted
//! until its expiry passes, when GC drops the entry. `owner_sessions` re-checks every listed
//! session against its record, so it never returns a dead or re-bound session.
//!
//! `count` and GC visit all 16 shards: on a single server in one script, on a cluster with
//! one request per shard, all in flight at once.
//!
//! The single-server scripts build some key names themselves (an old owner's set, the
//! session keys GC visits) instead of receiving them all in `KEYS`; Redis allows that
//! outside cluster mode, and the cluster path never does it across slots.
//!
//! GC walks the index entries whose score is `<= now`, in batches. On a single server one
//! script per batch deletes each record whose stored expiry has passed and drops its index
//! entries; a record refreshed meanwhile (stored expiry `> now`) is kept and its score
//! repaired. On a cluster each record is checked and deleted by a script in its own slot,
//! then one script on the shard drops the entries of the deleted ones (only if their score
//! is still expired) and raises the score of the kept ones. Either way a session refreshed
//! while GC runs is never removed. Owner sets keep no reverse map: an entry whose record
//! Redis expired by itself is pruned when its owner's set is next added to (entries scored a
//! minute before the writer's `now` are dead).
//!
//! Index keys carry a TTL at least as long as any session they list (its TTL plus the slack,
//! set whenever the index is written, extended to twice that so the next writes find it long
//! enough and skip the `PEXPIRE`), so a prefix nobody uses any more disappears from Redis by
//! itself.
//!
//! # Near cache
//!
//! Off by default. `near_cache=N` (N > 0, single server only: a config error with a cluster
//! or Sentinel) keeps up to N sessions this process read recently in memory and answers
//! later reads of them with no round trip, through core's synchronous
//! [`RawStore::read_in_memory`] path (no boxed future either). When full, the session
//! cached first makes room: every entry goes [`NEAR_CACHE_MAX_AGE`] after its read anyway,
//! so that is the one closest to going.
//!
//! Reads (cache misses) go over one dedicated RESP3 connection with `CLIENT TRACKING ON`:
//! Redis remembers which session keys this process read and pushes an invalidation on that
//! connection as soon as any client changes, touches, deletes or regenerates one, or it
//! expires or the database is flushed. The push is applied in the connection's read loop,
//! so it takes effect before any reply that follows it. Writes, touches and destroys made
//! through this store drop their session from the cache themselves, so a process always
//! reads its own writes.
//!
//! Staleness bound: a cached answer can be stale for as long as an invalidation takes from
//! Redis to this process (measured in the tests at tens of microseconds to a few
//! milliseconds on loopback), and never longer than [`NEAR_CACHE_MAX_AGE`] (5 s) after the
//! read that cached it, which covers a link that dies silently. When the tracking
//! connection drops (the client library reports it, or a read on it fails), the cache is
//! emptied at once and answers nothing until a new connection has tracking on again. A read
//! whose reply raced an invalidation, a disconnection or a write of this store is not
//! cached.
//!
//! A stale entry cannot lose an update: the conditional save compares versions inside
//! Redis, so a save based on a stale read answers `Conflict` and core merges, as with any
//! concurrent writer. Only what a request *reads* can be up to the bound old.
//!
//! # Connections and errors
//!
//! - Single server: one `ConnectionManager` (multiplexed, pipelining, reconnects in the
//!   background with short back-off, so requests during an outage fail fast instead of
//!   queueing); with the near cache, a second connection for the tracked reads, opened
//!   again by the next read after it drops.
//! - Cluster: the async cluster client (slot routing, MOVED/ASK, scripts loaded on every
//!   master). To run any tool against a cluster, e.g. the conformance suite:
//!   `SESSION_PROVIDER=redis SESSION_PROVIDER_CONFIG='cluster=true,addrs=127.0.0.1:7100|127.0.0.1:7101|127.0.0.1:7102,prefix=session:'`.
//!   The tests start such a cluster themselves (`testing::cluster`, behind the feature
//!   `test-support`).
//! - Sentinel: the master's address comes from the first sentinel that answers; after a
//!   connection failure or a `READONLY` answer (the old master was demoted) the next request
//!   asks the sentinels again, so a failover needs no restart.
//!
//! Connection refused, timeouts and every other client failure are `Error::Backend` with
//! provider `"redis"`, never "not found", so adapters answer 503 and keep the client's cookie.
//! The same `Manager` works again once Redis is back; nothing has to be rebuilt.
//!
//! # Example
//!
//! ```no_run
//! use session_core::{Manager, Options, Registry};
//! use session_redis::RedisProvider;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> session_core::Result<()> {
//! let registry = Registry::new().with(RedisProvider)?;
//! let options = Options {
//!     provider: "redis".into(),
//!     provider_config: "addr=127.0.0.1:6379,db=0,prefix=myapp:".into(),
//!     ..Options::default()
//! };
//! let manager = Manager::new(options, &registry).await?;
//! let session = manager.load([]);
//! session.set("uid", &42).await?;
//! let commit = session.commit().await?;
//! assert!(commit.set_cookie.is_some());
//! assert_eq!(manager.count().await?, 1);
//! # Ok(())
//! # }
//! ```

mod config;
mod conn;
mod keys;
mod near;
mod record;
mod scripts;
mod store;
#[cfg(feature = "test-support")]
pub mod testing;

use std::sync::Arc;

use async_trait::async_trait;
use session_core::{Provider, ProviderContext, RawStore, Result};

pub use config::{DEFAULT_PORT, DEFAULT_PREFIX, Endpoint, RedisConfig, Topology};
pub use near::{CONNECTION_NAME as NEAR_CACHE_CONNECTION_NAME, MAX_AGE as NEAR_CACHE_MAX_AGE};
pub use store::RedisStore;

/// The provider's registry name.
pub const NAME: &str = "redis";

/// The `"redis"` provider factory: parses the config string into a [`RedisConfig`] and opens
/// a [`RedisStore`].
#[derive(Debug, Default, Clone, Copy)]
pub struct RedisProvider;

#[async_trait]
impl Provider for RedisProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn open(&self, config: &str, ctx: &ProviderContext) -> Result<Arc<dyn RawStore>> {
        Ok(Arc::new(RedisStore::open(config.parse()?, ctx).await?))
    }
}
