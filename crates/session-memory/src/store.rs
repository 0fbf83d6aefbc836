//! [`MemoryStore`]: sessions in sharded hash maps of this process.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use session_core::{
    Bytes, Capabilities, Clock, Error, Inserted, Millis, ProviderContext, RawStore, Result, Saved,
    SessionId, Stored, SystemClock, Version, Write,
};

use crate::{MemoryConfig, NAME};

const SHARDS: usize = 64;

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
    /// An unbounded store on the system clock.
    fn default() -> Self {
        MemoryStore::with_clock(MemoryConfig::default(), Arc::new(SystemClock))
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
    /// A store as `config` describes; the manager's clock (`ctx.clock`) decides which
    /// sessions are expired when a bounded store must make room. Nothing can fail here, but
    /// the signature is every provider's.
    pub fn open(config: MemoryConfig, ctx: &ProviderContext) -> Result<MemoryStore> {
        Ok(MemoryStore::with_clock(config, ctx.clock.clone()))
    }

    fn with_clock(config: MemoryConfig, clock: Arc<dyn Clock>) -> Self {
        let capacity = config.capacity.map(NonZeroUsize::get);
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
