//! [`LedisStore`]: the [`RawStore`] on sled.

mod open;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use session_core::{
    Bytes, Capabilities, Error, Inserted, Millis, ProviderContext, RawStore, Result, Saved,
    SessionId, Stored, Version, Write,
};
use sled::{IVec, Tree};

use crate::NAME;
use crate::config::LedisConfig;
use crate::record::{Value, expired_bound, expiry_key, owner_key, owner_prefix, parse_expiry_key};

/// Expiry index entries handled per GC batch; the write lock is released between batches so
/// requests keep flowing while GC runs.
const GC_BATCH: usize = 128;

/// Sessions in an embedded sled database. Build it through [`crate::LedisProvider`] or
/// [`LedisStore::open`].
pub struct LedisStore {
    db: sled::Db,
    trees: Arc<Trees>,
    dir: PathBuf,
    /// Declared last so it is released after the database handles above.
    _claim: open::DirClaim,
}

impl std::fmt::Debug for LedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedisStore")
            .field("dir", &self.dir)
            .field("records", &self.trees.records.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// The trees of one `db` namespace, the writer lock and the record counter.
struct Trees {
    sessions: Tree,
    expiry: Tree,
    owners: Tree,
    /// Serializes the multi-key write sequences of this store (see the crate docs). Held
    /// only around synchronous sled calls, never across an `.await`.
    writer: Mutex<()>,
    /// Records in `sessions`, counted at open and kept exact by every create and delete.
    records: AtomicU64,
}

fn backend(e: impl Into<session_core::BoxError>) -> Error {
    Error::backend(NAME, e)
}

fn cas_error(e: sled::CompareAndSwapError) -> Error {
    backend(format!("compare-and-swap failed: {e}"))
}

impl LedisStore {
    /// Opens (or creates) the store described by `config` (see the crate docs). Opening runs
    /// sled's recovery and counts the records once, so it happens on the blocking pool. The
    /// context is not needed: core judges expiry, and sled has no record size limit to check.
    ///
    /// A directory locked by another process is retried for up to 5 s, so a restart right
    /// after a `kill -9` waits for the killed process to be gone instead of failing; a
    /// directory already open in this process is refused at once.
    pub async fn open(config: LedisConfig, _ctx: &ProviderContext) -> Result<Self> {
        config.validate()?;
        tokio::task::spawn_blocking(move || Self::open_blocking(&config))
            .await
            .map_err(|e| backend(format!("opening the store panicked: {e}")))?
    }

    fn open_blocking(cfg: &LedisConfig) -> Result<Self> {
        let (db, claim) = open::open_db(&cfg.data_dir)?;
        let tree = |name: &str| {
            db.open_tree(format!("db{}.{name}", cfg.db))
                .map_err(backend)
        };
        let sessions = tree("sessions")?;
        let mut records = 0u64;
        for key in sessions.iter().keys() {
            key.map_err(backend)?;
            records += 1;
        }
        let trees = Trees {
            expiry: tree("expiry")?,
            owners: tree("owners")?,
            sessions,
            writer: Mutex::new(()),
            records: AtomicU64::new(records),
        };
        Ok(LedisStore {
            db,
            trees: Arc::new(trees),
            dir: cfg.data_dir.clone(),
            _claim: claim,
        })
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    /// Makes every write so far durable (fsync). Every write method calls it before
    /// returning, so a returned save survives a crash or `kill -9`.
    ///
    /// `flush()` on the blocking pool, not `flush_async()`: the latter runs on sled's own
    /// small I/O pool, whose threads also write the log buffers a flush waits for; enough
    /// concurrent `flush_async` calls occupy every pool thread and deadlock.
    async fn flush(&self) -> Result<()> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|e| backend(format!("flush panicked: {e}")))?
            .map_err(backend)?;
        Ok(())
    }

    fn encode(&self, record: &Write<'_>) -> Result<(u64, Vec<u8>)> {
        // Versions come from sled's persistent monotonic ID generator: never reused, even
        // across restarts, so a stale version can never match a later record.
        let version = self.db.generate_id().map_err(backend)?;
        let value = Value {
            version,
            expires_at: record.expires_at,
            owner: record.owner,
            body: record.body,
        }
        .encode()?;
        Ok((version, value))
    }
}

impl Trees {
    fn lock(&self) -> MutexGuard<'_, ()> {
        // The guarded data is `()`: a panic elsewhere leaves nothing half-updated in it.
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds the index entries of a record about to be written. Index entries are always
    /// written before the record and removed after it, so a crash in between leaves an extra
    /// entry (GC and count verify entries against records) but never a record without one.
    fn index(&self, id: &[u8], expires_at: Millis, owner: Option<&str>) -> Result<()> {
        self.expiry
            .insert(expiry_key(expires_at, id), &[])
            .map_err(backend)?;
        if let Some(owner) = owner {
            self.owners
                .insert(owner_key(owner, id), &[])
                .map_err(backend)?;
        }
        Ok(())
    }

    /// Removes the index entries of a record version that is no longer stored.
    fn unindex(
        &self,
        id: &[u8],
        old: &Value<'_>,
        new: Option<(Millis, Option<&str>)>,
    ) -> Result<()> {
        if new.is_none_or(|(expires_at, _)| expires_at != old.expires_at) {
            self.expiry
                .remove(expiry_key(old.expires_at, id))
                .map_err(backend)?;
        }
        if let Some(owner) = old.owner
            && new.is_none_or(|(_, new_owner)| new_owner != Some(owner))
        {
            self.owners.remove(owner_key(owner, id)).map_err(backend)?;
        }
        Ok(())
    }

    /// Creates a record if the ID is free; call with the writer lock held.
    fn create(&self, id: &[u8], value: &[u8], record: &Write<'_>) -> Result<bool> {
        if self.sessions.contains_key(id).map_err(backend)? {
            return Ok(false);
        }
        self.index(id, record.expires_at, record.owner)?;
        let swapped = self
            .sessions
            .compare_and_swap(id, None::<&[u8]>, Some(value))
            .map_err(backend)?;
        if swapped.is_err() {
            // Only a writer bypassing the lock could get here; the entries are harmless.
            return Ok(false);
        }
        self.records.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }

    /// Deletes a record and its index entries; call with the writer lock held.
    fn delete(&self, id: &[u8]) -> Result<bool> {
        let Some(raw) = self.sessions.remove(id).map_err(backend)? else {
            return Ok(false);
        };
        self.records.fetch_sub(1, Ordering::Relaxed);
        if let Some(old) = Value::decode(&raw) {
            self.unindex(id, &old, None)?;
        }
        Ok(true)
    }

    /// Replaces `raw` (read under the lock) by `value`; call with the writer lock held.
    fn replace(
        &self,
        id: &[u8],
        raw: &IVec,
        old: &Value<'_>,
        value: Vec<u8>,
        expires_at: Millis,
        owner: Option<&str>,
    ) -> Result<()> {
        self.index(id, expires_at, owner)?;
        self.sessions
            .compare_and_swap(id, Some(raw), Some(value))
            .map_err(backend)?
            .map_err(cas_error)?;
        self.unindex(id, old, Some((expires_at, owner)))
    }

    /// Whether an expiry index entry describes its record's current expiry.
    fn is_current(&self, key: &[u8]) -> Result<bool> {
        let Some((expires_at, id)) = parse_expiry_key(key) else {
            return Ok(false);
        };
        let raw = self.sessions.get(id).map_err(backend)?;
        Ok(raw.is_some_and(|raw| Value::decode(&raw).is_some_and(|v| v.expires_at == expires_at)))
    }

    fn live_count(&self, now: Millis) -> Result<u64> {
        let mut expired = 0u64;
        for key in self.expired(now).keys() {
            let key = key.map_err(backend)?;
            if self.is_current(&key)? {
                expired += 1;
            }
        }
        Ok(self.records.load(Ordering::Relaxed).saturating_sub(expired))
    }

    /// The expiry index entries with `expires_at <= now`.
    fn expired(&self, now: Millis) -> sled::Iter {
        match expired_bound(now) {
            Some(bound) => self.expiry.range(..bound),
            None => self.expiry.iter(),
        }
    }

    /// Deletes expired records in batches; blocking.
    fn gc(&self, now: Millis) -> Result<u64> {
        let mut removed = 0;
        loop {
            let keys = self
                .expired(now)
                .keys()
                .take(GC_BATCH)
                .collect::<Result<Vec<IVec>, _>>()
                .map_err(backend)?;
            if keys.is_empty() {
                break;
            }
            let _writer = self.lock();
            for key in &keys {
                removed += self.collect(key, now)?;
            }
            if keys.len() < GC_BATCH {
                break;
            }
        }
        Ok(removed)
    }

    /// Handles one expiry entry with the writer lock held: re-reads the record, deletes it
    /// only if its *current* expiry is still `<= now` (a session refreshed after the index was
    /// read is kept), and drops the entry.
    fn collect(&self, key: &[u8], now: Millis) -> Result<u64> {
        let mut removed = 0;
        if let Some((_, id)) = parse_expiry_key(key)
            && let Some(raw) = self.sessions.get(id).map_err(backend)?
        {
            let value = Value::decode(&raw);
            if value.as_ref().is_none_or(|v| v.expires_at <= now) {
                let gone = self
                    .sessions
                    .compare_and_swap(id, Some(&raw), None::<&[u8]>)
                    .map_err(backend)?;
                if gone.is_ok() {
                    self.records.fetch_sub(1, Ordering::Relaxed);
                    removed = 1;
                    if let Some(value) = &value {
                        self.unindex(id, value, None)?;
                    }
                }
            }
        }
        self.expiry.remove(key).map_err(backend)?;
        Ok(removed)
    }
}

#[async_trait]
impl RawStore for LedisStore {
    fn provider(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }

    async fn read(&self, id: &SessionId) -> Result<Option<Stored>> {
        let Some(raw) = self.trees.sessions.get(id.as_str()).map_err(backend)? else {
            return Ok(None);
        };
        Ok(Some(match Value::decode(&raw) {
            Some(value) => Stored {
                body: Bytes::copy_from_slice(value.body),
                version: Version(value.version),
                expires_at: value.expires_at,
            },
            None => {
                // Expired and empty: core discards it and the next GC removes it.
                tracing::warn!(session = %id, "sled value is not a session record");
                Stored {
                    body: Bytes::new(),
                    version: Version(0),
                    expires_at: 0,
                }
            }
        }))
    }

    async fn exist(&self, id: &SessionId) -> Result<bool> {
        self.trees
            .sessions
            .contains_key(id.as_str())
            .map_err(backend)
    }

    async fn insert(&self, id: &SessionId, record: Write<'_>) -> Result<Inserted> {
        let (version, value) = self.encode(&record)?;
        let created = {
            let _writer = self.trees.lock();
            self.trees.create(id.as_str().as_bytes(), &value, &record)?
        };
        if !created {
            return Ok(Inserted::Exists);
        }
        self.flush().await?;
        Ok(Inserted::Created(Version(version)))
    }

    async fn save(&self, id: &SessionId, expected: Version, record: Write<'_>) -> Result<Saved> {
        let (version, value) = self.encode(&record)?;
        let key = id.as_str().as_bytes();
        {
            let _writer = self.trees.lock();
            let Some(raw) = self.trees.sessions.get(key).map_err(backend)? else {
                return Ok(Saved::Missing);
            };
            let Some(old) = Value::decode(&raw).filter(|old| old.version == expected.0) else {
                return Ok(Saved::Conflict);
            };
            self.trees
                .replace(key, &raw, &old, value, record.expires_at, record.owner)?;
        }
        self.flush().await?;
        Ok(Saved::Saved(Version(version)))
    }

    async fn touch(&self, id: &SessionId, expires_at: Millis, _ttl_ms: Millis) -> Result<bool> {
        let key = id.as_str().as_bytes();
        {
            let _writer = self.trees.lock();
            let Some(raw) = self.trees.sessions.get(key).map_err(backend)? else {
                return Ok(false);
            };
            let Some(old) = Value::decode(&raw) else {
                return Ok(true);
            };
            if old.expires_at == expires_at {
                return Ok(true);
            }
            let value = Value {
                expires_at,
                ..old.clone()
            }
            .encode()?;
            self.trees
                .replace(key, &raw, &old, value, expires_at, old.owner)?;
        }
        self.flush().await?;
        Ok(true)
    }

    async fn destroy(&self, id: &SessionId) -> Result<bool> {
        let removed = {
            let _writer = self.trees.lock();
            self.trees.delete(id.as_str().as_bytes())?
        };
        if removed {
            self.flush().await?;
        }
        Ok(removed)
    }

    async fn count(&self, now: Millis) -> Result<u64> {
        self.trees.live_count(now)
    }

    async fn gc(&self, now: Millis) -> Result<u64> {
        let trees = self.trees.clone();
        let removed = tokio::task::spawn_blocking(move || trees.gc(now))
            .await
            .map_err(|e| backend(format!("gc panicked: {e}")))??;
        if removed > 0 {
            self.flush().await?;
        }
        Ok(removed)
    }

    async fn owner_sessions(&self, owner: &str, now: Millis) -> Result<Vec<SessionId>> {
        let prefix = owner_prefix(owner);
        let mut ids = Vec::new();
        for key in self.trees.owners.scan_prefix(&prefix).keys() {
            let key = key.map_err(backend)?;
            let Some(id) = std::str::from_utf8(&key[prefix.len()..])
                .ok()
                .and_then(|s| SessionId::parse_any(s).ok())
            else {
                continue;
            };
            // The index only points; the record decides (an owner containing NUL could
            // otherwise match another owner's prefix, and a crash can leave extra entries).
            let Some(raw) = self.trees.sessions.get(id.as_str()).map_err(backend)? else {
                continue;
            };
            if Value::decode(&raw).is_some_and(|v| v.owner == Some(owner) && v.expires_at > now) {
                ids.push(id);
            }
        }
        Ok(ids)
    }
}
