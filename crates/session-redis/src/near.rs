//! The opt-in near cache: sessions this process read recently, answered from memory and
//! dropped as soon as Redis says they changed (server-assisted client-side caching).
//!
//! Reads go over one dedicated RESP3 connection with `CLIENT TRACKING ON`, so Redis
//! remembers which keys this process holds and pushes an `invalidate` message on that same
//! connection when any client changes, touches, deletes or expires one of them (or flushes
//! the database). The push arrives on the connection's read loop and is applied there, under
//! the cache's lock, before any later reply is handed out.
//!
//! Three rules keep a cached answer from outliving the truth:
//!
//! - An answer is cached only if no invalidation, disconnection or own write happened while
//!   its `GET` was in flight (a global epoch, compared under the lock), so an invalidation
//!   that overtakes the reply it concerns is never undone.
//! - When the tracking connection drops (the client library reports it in the same push
//!   stream), the cache is emptied and answers nothing until a new connection has tracking
//!   on again: without tracking, Redis would send no invalidations.
//! - No entry is served longer than [`MAX_AGE`] after it was read, which bounds staleness
//!   even when the link dies silently (no RST: no disconnection to report).
//!
//! Writes made by this store drop the entry themselves (and bump the epoch) when they
//! finish, so a process always reads its own writes; the conditional save compares versions
//! in Redis, so a stale entry can at worst make a save answer `Conflict`, never succeed.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, PushInfo, PushKind, Value};
use session_core::{Result, SessionId, Stored};

use crate::record;
use crate::store::backend;

/// The longest a cached session is answered from memory after the read that cached it.
pub const MAX_AGE: Duration = Duration::from_secs(5);

/// [`MAX_AGE`] in the milliseconds of [`coarse_millis`]; a few more at most, its resolution.
const MAX_AGE_MS: u64 = MAX_AGE.as_millis() as u64;

/// Milliseconds on a monotonic clock, for [`MAX_AGE`]: on Linux `CLOCK_MONOTONIC_COARSE`,
/// which ticks every few milliseconds but is read without the CPU's time-stamp counter, at a
/// fraction of the cost of `Instant::now` on every cache hit; a bound of seconds needs no
/// finer clock.
#[cfg(target_os = "linux")]
fn coarse_millis() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::MonotonicCoarse);
    let secs = u64::try_from(t.tv_sec).unwrap_or(0);
    let millis = u64::try_from(t.tv_nsec).unwrap_or(0) / 1_000_000;
    secs.saturating_mul(1000).saturating_add(millis)
}

/// Milliseconds on a monotonic clock, for [`MAX_AGE`]: since the first reading.
#[cfg(not(target_os = "linux"))]
fn coarse_millis() -> u64 {
    use std::time::Instant;
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let start = *START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The client name of the tracking connection (`CLIENT LIST` shows it).
pub const CONNECTION_NAME: &str = "session-redis-near-cache";

struct Entry {
    stored: Stored,
    /// When the read that cached it was made ([`coarse_millis`]).
    read_at: u64,
    /// Which caching of this ID it is ([`Entries::cached`]), so an older place in the
    /// queue is told apart from the current one.
    seq: u64,
}

/// The cached records, at most a capacity of them. A full cache makes room by dropping the
/// entry cached first: with every entry dropped [`MAX_AGE`] after its read anyway, that is
/// the one closest to going, where an arbitrary pick could drop one cached a moment ago.
#[derive(Default)]
struct Entries {
    /// Keyed by the session's ID, which `get` hands out with the record (a reference count,
    /// not a copy). Hashed with foldhash rather than SipHash: a lookup hashes an ID on every
    /// request, and only IDs read from Redis are ever inserted, so a client cannot choose
    /// colliding keys.
    map: HashMap<SessionId, Entry, foldhash::fast::RandomState>,
    /// The order entries were cached in. Removing an entry leaves its place here; such
    /// places are skipped when making room, and swept out once they outnumber the entries.
    order: VecDeque<(SessionId, u64)>,
    /// The number of the next caching.
    seq: u64,
}

impl Entries {
    fn get(&self, id: &str) -> Option<(&SessionId, &Entry)> {
        self.map.get_key_value(id)
    }

    fn remove(&mut self, id: &str) {
        self.map.remove(id);
    }

    fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
    }

    /// Caches `stored` for `id`, first dropping the oldest entries while `capacity` is
    /// reached.
    fn cached(&mut self, id: &SessionId, stored: Stored, capacity: usize) {
        if !self.map.contains_key(id.as_str()) {
            while self.map.len() >= capacity.max(1) {
                let Some((oldest, seq)) = self.order.pop_front() else {
                    break;
                };
                if self.map.get(oldest.as_str()).is_some_and(|e| e.seq == seq) {
                    self.map.remove(oldest.as_str());
                }
            }
        }
        let seq = self.seq;
        self.seq += 1;
        let entry = Entry {
            stored,
            read_at: coarse_millis(),
            seq,
        };
        self.map.insert(id.clone(), entry);
        self.order.push_back((id.clone(), seq));
        if self.order.len() > 2 * self.map.len() + 16 {
            let map = &self.map;
            self.order
                .retain(|(id, seq)| map.get(id.as_str()).is_some_and(|e| e.seq == *seq));
        }
    }
}

#[derive(Default)]
struct State {
    entries: Entries,
    /// Bumped by every invalidation, disconnection and own write.
    epoch: u64,
    /// Which tracking connection is current, and whether it is up.
    generation: u64,
    tracking: bool,
}

/// The part the push handler shares with the store.
struct Shared {
    state: Mutex<State>,
    capacity: usize,
    /// What a session key looks like around its ID: `<prefix>{` and `}`.
    key_start: String,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves a map that is still a valid cache.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn id_of<'a>(&self, key: &'a [u8]) -> Option<&'a str> {
        let key = std::str::from_utf8(key).ok()?;
        key.strip_prefix(self.key_start.as_str())?.strip_suffix('}')
    }

    /// Applies one push message from tracking connection `generation`.
    fn on_push(&self, generation: u64, push: PushInfo) {
        let mut state = self.lock();
        match push.kind {
            PushKind::Invalidate => {
                state.epoch += 1;
                let mut keys = Vec::new();
                let mut everything = false;
                for value in &push.data {
                    collect_keys(value, &mut keys, &mut everything);
                }
                if everything {
                    state.entries.clear();
                }
                for key in keys {
                    if let Some(id) = self.id_of(key) {
                        state.entries.remove(id);
                    }
                }
            }
            PushKind::Disconnection => {
                state.epoch += 1;
                state.entries.clear();
                if state.generation == generation {
                    state.tracking = false;
                }
            }
            _ => {}
        }
    }
}

/// The keys an `invalidate` message names; a nil one means "everything" (`FLUSHALL`).
fn collect_keys<'a>(value: &'a Value, keys: &mut Vec<&'a [u8]>, everything: &mut bool) {
    match value {
        Value::BulkString(key) => keys.push(key),
        Value::Array(values) | Value::Set(values) => {
            for value in values {
                collect_keys(value, keys, everything);
            }
        }
        Value::Nil => *everything = true,
        _ => {}
    }
}

/// The near cache of one store.
pub(crate) struct NearCache {
    shared: Arc<Shared>,
    client: Client,
    config: AsyncConnectionConfig,
    connection: tokio::sync::Mutex<Option<(MultiplexedConnection, u64)>>,
}

impl NearCache {
    /// A cache of at most `capacity` sessions over `client` (which must speak RESP3); the
    /// tracking connection is opened by the first read.
    pub(crate) fn new(
        client: Client,
        config: AsyncConnectionConfig,
        prefix: &str,
        capacity: usize,
    ) -> Self {
        NearCache {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                capacity,
                key_start: format!("{prefix}{{"),
            }),
            client,
            config,
            connection: tokio::sync::Mutex::new(None),
        }
    }

    /// The cached record of `id`, if tracking is up and it was read less than [`MAX_AGE`]
    /// ago; `None` means "ask Redis".
    pub(crate) fn get(&self, id: &str) -> Option<(SessionId, Stored)> {
        let state = self.shared.lock();
        if !state.tracking {
            return None;
        }
        let (id, entry) = state.entries.get(id)?;
        (coarse_millis().saturating_sub(entry.read_at) < MAX_AGE_MS)
            .then(|| (id.clone(), entry.stored.clone()))
    }

    /// Drops `id` after a write of this store, and keeps reads in flight from caching what
    /// they saw before it.
    pub(crate) fn forget(&self, id: &SessionId) {
        let mut state = self.shared.lock();
        state.epoch += 1;
        state.entries.remove(id.as_str());
    }

    /// Reads `key` (the session key of `id`) over the tracking connection and caches the
    /// record unless something changed meanwhile.
    pub(crate) async fn read(&self, key: &str, id: &SessionId) -> Result<Option<Stored>> {
        let (mut connection, generation) = self.connection().await?;
        let epoch = self.shared.lock().epoch;
        let value: Option<Vec<u8>> = match redis::cmd("GET")
            .arg(key)
            .query_async(&mut connection)
            .await
        {
            Ok(value) => value,
            Err(e) => {
                // Whatever happened to the connection, its tracking can no longer be trusted.
                self.shared.on_push(
                    generation,
                    PushInfo {
                        kind: PushKind::Disconnection,
                        data: Vec::new(),
                    },
                );
                return Err(backend(e));
            }
        };
        let stored = value.map(record::decode).transpose()?;
        if let Some(stored) = &stored {
            let mut state = self.shared.lock();
            if state.epoch == epoch && state.tracking && state.generation == generation {
                state
                    .entries
                    .cached(id, stored.clone(), self.shared.capacity);
            }
        }
        Ok(stored)
    }

    /// The tracking connection, opened (and tracking turned on) if there is none or the
    /// last one dropped.
    async fn connection(&self) -> Result<(MultiplexedConnection, u64)> {
        let mut current = self.connection.lock().await;
        if let Some((connection, generation)) = current.as_ref() {
            let state = self.shared.lock();
            if state.tracking && state.generation == *generation {
                return Ok((connection.clone(), *generation));
            }
        }
        *current = None;
        let generation = {
            let mut state = self.shared.lock();
            state.generation += 1;
            state.tracking = false;
            state.generation
        };
        let shared = self.shared.clone();
        let config = self.config.clone().set_push_sender(move |push: PushInfo| {
            shared.on_push(generation, push);
            Ok::<(), Infallible>(())
        });
        let mut connection = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(backend)?;
        redis::pipe()
            .cmd("CLIENT")
            .arg("SETNAME")
            .arg(CONNECTION_NAME)
            .ignore()
            .cmd("CLIENT")
            .arg("TRACKING")
            .arg("ON")
            .ignore()
            .query_async::<()>(&mut connection)
            .await
            .map_err(backend)?;
        {
            let mut state = self.shared.lock();
            // A disconnection of this very connection may already have been reported.
            if state.generation == generation {
                state.tracking = true;
                state.epoch += 1;
                state.entries.clear();
            }
        }
        *current = Some((connection.clone(), generation));
        Ok((connection, generation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(n: u8) -> Stored {
        Stored {
            body: bytes::Bytes::from(vec![n]),
            version: session_core::Version(1),
            expires_at: 0,
        }
    }

    fn ids(n: usize) -> Vec<SessionId> {
        (0..n).map(|_| SessionId::generate(32).unwrap()).collect()
    }

    #[test]
    fn a_full_cache_drops_the_entry_cached_first() {
        let ids = ids(3);
        let mut entries = Entries::default();
        entries.cached(&ids[0], stored(0), 2);
        entries.cached(&ids[1], stored(1), 2);
        // Cached again: now the newer of the two.
        entries.cached(&ids[0], stored(2), 2);
        entries.cached(&ids[2], stored(3), 2);
        assert_eq!(entries.get(ids[0].as_str()).unwrap().1.stored.body[..], [2]);
        assert!(
            entries.get(ids[1].as_str()).is_none(),
            "the oldest entry stayed"
        );
        assert!(entries.get(ids[2].as_str()).is_some());
        assert_eq!(entries.map.len(), 2);
    }

    #[test]
    fn removed_entries_do_not_pile_up_in_the_order() {
        let ids = ids(2);
        let mut entries = Entries::default();
        entries.cached(&ids[1], stored(1), 10);
        for n in 0..1000 {
            entries.cached(&ids[0], stored(0), 10);
            if n % 2 == 0 {
                entries.remove(ids[0].as_str());
            }
        }
        assert!(entries.order.len() <= 2 * entries.map.len() + 17);
        // The entry that was never touched is still where eviction finds it first.
        entries.cached(&SessionId::generate(32).unwrap(), stored(2), 2);
        assert!(entries.get(ids[1].as_str()).is_none());
    }

    #[test]
    fn invalidation_names_are_mapped_back_to_ids() {
        let shared = Shared {
            state: Mutex::new(State::default()),
            capacity: 10,
            key_start: "p:{".into(),
        };
        assert_eq!(shared.id_of(b"p:{abc}"), Some("abc"));
        assert_eq!(shared.id_of(b"p:{index:00}:owner:x"), None);
        assert_eq!(shared.id_of(b"other:{abc}"), None);
        let mut keys = Vec::new();
        let mut everything = false;
        let data = Value::Array(vec![Value::BulkString(b"p:{a}".to_vec())]);
        collect_keys(&data, &mut keys, &mut everything);
        assert_eq!(keys, vec![&b"p:{a}"[..]]);
        assert!(!everything);
        collect_keys(&Value::Nil, &mut keys, &mut everything);
        assert!(everything);
    }
}
