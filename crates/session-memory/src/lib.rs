//! In-process session provider, and the worked example for provider authors.
//!
//! A provider is two small pieces: a [`Provider`] (a factory registered by name that parses
//! its config string) and a [`RawStore`] (the I/O: read, insert-if-absent, conditional save,
//! touch, destroy, count, GC, owner index). All session logic lives in `session-core`; this
//! crate only keeps bytes. Read it top to bottom before writing your own, then run the
//! conformance suite from your tests with one call (see the `tests/` folder here).
//!
//! Design: sessions are spread over 64 shards, each behind its own `RwLock`, so requests on
//! different cores rarely contend (no global mutex). GC walks one shard at a time and yields
//! between shards, so it never stops the world. An optional capacity bounds memory: when full,
//! an insert first drops expired sessions of its shard, then the one closest to expiry.
//! Sessions live in this process only: use another provider when several instances serve
//! one site.
//!
//! Config string: empty, or `capacity=N`.
//!
//! ```
//! use std::sync::Arc;
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

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use session_core::{
    Bytes, Capabilities, Clock, Error, Inserted, Millis, Provider, ProviderContext, RawStore,
    Result, Saved, SessionId, Stored, SystemClock, Version, Write,
};

const NAME: &str = "memory";
const SHARDS: usize = 64;

/// The `"memory"` provider factory.
#[derive(Debug, Default, Clone, Copy)]
pub struct MemoryProvider;

#[async_trait]
impl Provider for MemoryProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn open(&self, config: &str, ctx: &ProviderContext) -> Result<Arc<dyn RawStore>> {
        let mut capacity = None;
        for pair in config.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("capacity", value)) => {
                    let n: usize = value.trim().parse().map_err(|_| {
                        Error::config(
                            "capacity",
                            format!("expected a positive number, got {value:?}"),
                        )
                    })?;
                    if n == 0 {
                        return Err(Error::config("capacity", "must be greater than zero"));
                    }
                    capacity = Some(n);
                }
                Some((key, _)) => return Err(Error::config(key, "unknown memory provider option")),
                None => return Err(Error::config(pair, "expected key=value")),
            }
        }
        Ok(Arc::new(MemoryStore::new(capacity, ctx.clock.clone())))
    }
}

struct Entry {
    /// `Bytes` so a read hands out the body with a reference-count bump, not a copy.
    body: Bytes,
    version: u64,
    expires_at: Millis,
    owner: Option<Box<str>>,
}

/// Sessions are keyed with foldhash rather than SipHash: a lookup on every request hashes
/// the ID, and SipHash's flooding resistance buys nothing here. Keys are inserted only under
/// IDs the server generated from the OS CSPRNG (or their hashes), never under a value a
/// client chose, so no one can fill a shard with colliding keys; a client's chosen ID only
/// ever costs one lookup. The owner index, whose keys users do choose, keeps SipHash.
type Shard = HashMap<SessionId, Entry, foldhash::fast::RandomState>;

/// The in-process store. `MemoryStore::default()` is unbounded and uses the system clock.
pub struct MemoryStore {
    shards: Box<[RwLock<Shard>]>,
    owners: Mutex<HashMap<Box<str>, HashSet<SessionId>>>,
    capacity: Option<usize>,
    len: AtomicUsize,
    versions: AtomicU64,
    clock: Arc<dyn Clock>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new(None, Arc::new(SystemClock))
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("len", &self.len.load(Ordering::Relaxed))
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl MemoryStore {
    /// A store holding at most `capacity` sessions (unbounded with `None`); `clock` decides
    /// which sessions are expired when room must be made.
    pub fn new(capacity: Option<usize>, clock: Arc<dyn Clock>) -> Self {
        MemoryStore {
            shards: (0..SHARDS)
                .map(|_| RwLock::new(HashMap::default()))
                .collect(),
            owners: Mutex::new(HashMap::new()),
            capacity,
            len: AtomicUsize::new(0),
            versions: AtomicU64::new(1),
            clock,
        }
    }

    /// Number of records held, expired ones included until GC removes them.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Whether the store holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, id: &str) -> &RwLock<Shard> {
        // IDs are uniformly random hex, so their first characters spread evenly.
        let index = id.bytes().take(4).fold(0usize, |acc, b| {
            acc.wrapping_mul(31).wrapping_add(usize::from(b))
        });
        &self.shards[index % SHARDS]
    }

    /// The record under `id`, with the store's own copy of the key.
    fn get(&self, id: &str) -> Option<(SessionId, Stored)> {
        read(self.shard(id)).get_key_value(id).map(|(key, e)| {
            let stored = Stored {
                body: e.body.clone(),
                version: Version(e.version),
                expires_at: e.expires_at,
            };
            (key.clone(), stored)
        })
    }

    fn next_version(&self) -> u64 {
        self.versions.fetch_add(1, Ordering::Relaxed)
    }

    fn owners(&self) -> MutexGuard<'_, HashMap<Box<str>, HashSet<SessionId>>> {
        // A poisoned lock only means another thread panicked mid-update of a plain map.
        self.owners.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn index_owner(&self, id: &SessionId, old: Option<&str>, new: Option<&str>) {
        if old == new {
            return;
        }
        let mut owners = self.owners();
        if let Some(old) = old
            && let Some(set) = owners.get_mut(old)
        {
            set.remove(id);
            if set.is_empty() {
                owners.remove(old);
            }
        }
        if let Some(new) = new {
            owners.entry(new.into()).or_default().insert(id.clone());
        }
    }

    /// Makes room in `shard` for one more record; called with its write lock held.
    fn make_room(&self, shard: &mut Shard) -> Result<()> {
        let Some(capacity) = self.capacity else {
            return Ok(());
        };
        if self.len.load(Ordering::Relaxed) < capacity {
            return Ok(());
        }
        let now = self.clock.now();
        let expired: Vec<SessionId> = shard
            .iter()
            .filter(|(_, e)| e.expires_at <= now)
            .map(|(id, _)| id.clone())
            .collect();
        let victims = if expired.is_empty() {
            shard
                .iter()
                .min_by_key(|(_, e)| e.expires_at)
                .map(|(id, _)| vec![id.clone()])
                .unwrap_or_default()
        } else {
            expired
        };
        if victims.is_empty() {
            return Err(Error::CapacityExceeded {
                provider: NAME,
                capacity,
            });
        }
        for id in victims {
            if let Some(entry) = shard.remove(&id) {
                self.len.fetch_sub(1, Ordering::Relaxed);
                self.index_owner(&id, entry.owner.as_deref(), None);
            }
        }
        Ok(())
    }
}

fn read<'a>(lock: &'a RwLock<Shard>) -> RwLockReadGuard<'a, Shard> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<'a>(lock: &'a RwLock<Shard>) -> RwLockWriteGuard<'a, Shard> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

#[async_trait]
impl RawStore for MemoryStore {
    fn provider(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }

    async fn read(&self, id: &SessionId) -> Result<Option<Stored>> {
        Ok(self.get(id.as_str()).map(|(_, stored)| stored))
    }

    fn read_in_memory(&self, id: &str) -> Option<Result<Option<(SessionId, Stored)>>> {
        Some(Ok(self.get(id)))
    }

    async fn exist(&self, id: &SessionId) -> Result<bool> {
        Ok(read(self.shard(id.as_str())).contains_key(id))
    }

    async fn insert(&self, id: &SessionId, record: Write<'_>) -> Result<Inserted> {
        let mut shard = write(self.shard(id.as_str()));
        if shard.contains_key(id) {
            return Ok(Inserted::Exists);
        }
        self.make_room(&mut shard)?;
        let version = self.next_version();
        shard.insert(
            id.clone(),
            Entry {
                body: Bytes::copy_from_slice(record.body),
                version,
                expires_at: record.expires_at,
                owner: record.owner.map(Into::into),
            },
        );
        self.len.fetch_add(1, Ordering::Relaxed);
        drop(shard);
        self.index_owner(id, None, record.owner);
        Ok(Inserted::Created(Version(version)))
    }

    async fn save(&self, id: &SessionId, expected: Version, record: Write<'_>) -> Result<Saved> {
        let mut shard = write(self.shard(id.as_str()));
        let Some(entry) = shard.get_mut(id) else {
            return Ok(Saved::Missing);
        };
        if entry.version != expected.0 {
            return Ok(Saved::Conflict);
        }
        let version = self.next_version();
        entry.body = Bytes::copy_from_slice(record.body);
        entry.version = version;
        entry.expires_at = record.expires_at;
        let old_owner = std::mem::replace(&mut entry.owner, record.owner.map(Into::into));
        drop(shard);
        self.index_owner(id, old_owner.as_deref(), record.owner);
        Ok(Saved::Saved(Version(version)))
    }

    async fn touch(&self, id: &SessionId, expires_at: Millis, _ttl_ms: Millis) -> Result<bool> {
        let mut shard = write(self.shard(id.as_str()));
        Ok(match shard.get_mut(id) {
            Some(entry) => {
                entry.expires_at = expires_at;
                true
            }
            None => false,
        })
    }

    async fn destroy(&self, id: &SessionId) -> Result<bool> {
        let removed = write(self.shard(id.as_str())).remove(id);
        Ok(match removed {
            Some(entry) => {
                self.len.fetch_sub(1, Ordering::Relaxed);
                self.index_owner(id, entry.owner.as_deref(), None);
                true
            }
            None => false,
        })
    }

    async fn count(&self, now: Millis) -> Result<u64> {
        let mut live = 0u64;
        for shard in self.shards.iter() {
            live += read(shard).values().filter(|e| e.expires_at > now).count() as u64;
        }
        Ok(live)
    }

    async fn gc(&self, now: Millis) -> Result<u64> {
        let mut removed = 0u64;
        for shard in self.shards.iter() {
            let mut dead = Vec::new();
            {
                let mut guard = write(shard);
                guard.retain(|id, e| {
                    let keep = e.expires_at > now;
                    if !keep {
                        dead.push((id.clone(), e.owner.take()));
                    }
                    keep
                });
            }
            self.len.fetch_sub(dead.len(), Ordering::Relaxed);
            removed += dead.len() as u64;
            for (id, owner) in dead {
                self.index_owner(&id, owner.as_deref(), None);
            }
            // One shard at a time: requests on other shards never wait for the whole pass.
            yield_now().await;
        }
        Ok(removed)
    }

    async fn owner_sessions(&self, owner: &str, now: Millis) -> Result<Vec<SessionId>> {
        let ids: Vec<SessionId> = self
            .owners()
            .get(owner)
            .map(|set| set.iter().cloned().collect())
            .unwrap_or_default();
        Ok(ids
            .into_iter()
            .filter(|id| {
                read(self.shard(id.as_str()))
                    .get(id)
                    .is_some_and(|e| e.expires_at > now && e.owner.as_deref() == Some(owner))
            })
            .collect())
    }
}

/// Yields to the executor without depending on a runtime crate: a future that is pending once.
async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await;
}
