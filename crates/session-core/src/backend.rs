//! [`Backend`]: the manager's store as core calls it. Every operation goes through here, so
//! it is timed, its failures counted and its written records measured ([`crate::metrics`])
//! in one place.
//!
//! Why a facade with inherent methods and not a [`RawStore`] wrapper around the store: a
//! wrapper's methods are `async_trait` methods, so each call would box a second future
//! around the provider's, on every request. These methods are plain `async fn`s whose state
//! lives inside the caller's future: the measuring costs two clock reads and nothing else.

use std::future::Future;
use std::sync::Arc;

use crate::clock::Millis;
use crate::error::Result;
use crate::id::SessionId;
use crate::metrics::StoreMeters;
use crate::store::{Capabilities, Inserted, Moved, RawStore, Saved, Stored, Version, Write};

/// A [`RawStore`] operation, as the metrics' `operation` label names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// [`RawStore::read`] and [`RawStore::read_in_memory`].
    Read,
    /// [`RawStore::exist`].
    Exist,
    /// [`RawStore::insert`].
    Insert,
    /// [`RawStore::save`].
    Save,
    /// [`RawStore::touch`].
    Touch,
    /// [`RawStore::destroy`].
    Destroy,
    /// [`RawStore::regenerate`].
    Regenerate,
    /// [`RawStore::count`].
    Count,
    /// [`RawStore::gc`].
    Gc,
    /// [`RawStore::owner_sessions`].
    OwnerSessions,
}

impl Operation {
    /// Every operation, in the order of their latency handles.
    pub const ALL: [Operation; 10] = [
        Operation::Read,
        Operation::Exist,
        Operation::Insert,
        Operation::Save,
        Operation::Touch,
        Operation::Destroy,
        Operation::Regenerate,
        Operation::Count,
        Operation::Gc,
        Operation::OwnerSessions,
    ];

    /// The label value: `read`, `exist`, `insert`, `save`, `touch`, `destroy`, `regenerate`,
    /// `count`, `gc` or `owner_sessions`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::Exist => "exist",
            Operation::Insert => "insert",
            Operation::Save => "save",
            Operation::Touch => "touch",
            Operation::Destroy => "destroy",
            Operation::Regenerate => "regenerate",
            Operation::Count => "count",
            Operation::Gc => "gc",
            Operation::OwnerSessions => "owner_sessions",
        }
    }
}

/// The store a [`crate::Manager`] was built with (after any wrapper the options add, such
/// as [`crate::Encrypted`]), with the same operations as [`RawStore`], each measured.
///
/// [`crate::Manager::store`] returns it: calls made through it are measured like core's own.
/// [`Backend::raw`] is the store itself, for code that needs an `Arc<dyn RawStore>`.
pub struct Backend {
    raw: Arc<dyn RawStore>,
    meters: StoreMeters,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("provider", &self.raw.provider())
            .finish_non_exhaustive()
    }
}

impl Backend {
    /// Wraps `raw`, registering its series with the recorder installed now.
    pub(crate) fn new(raw: Arc<dyn RawStore>) -> Self {
        let meters = StoreMeters::new(raw.provider());
        Backend { raw, meters }
    }

    /// The store itself; calls made on it are not measured.
    pub fn raw(&self) -> &Arc<dyn RawStore> {
        &self.raw
    }

    /// [`RawStore::provider`].
    pub fn provider(&self) -> &'static str {
        self.raw.provider()
    }

    /// [`RawStore::capabilities`].
    pub fn capabilities(&self) -> Capabilities {
        self.raw.capabilities()
    }

    /// Runs `call` as operation `op`, measured.
    async fn measured<T>(&self, op: Operation, call: impl Future<Output = Result<T>>) -> Result<T> {
        self.meters.time(op, call).await
    }

    /// [`RawStore::read`].
    pub async fn read(&self, id: &SessionId) -> Result<Option<Stored>> {
        self.measured(Operation::Read, self.raw.read(id)).await
    }

    /// [`RawStore::read_in_memory`]. Not timed: an in-process store answers in well under
    /// a microsecond, less than the two clock reads would cost. Its failures are counted.
    pub fn read_in_memory(&self, id: &str) -> Option<Result<Option<(SessionId, Stored)>>> {
        let answer = self.raw.read_in_memory(id)?;
        if let Err(e) = &answer {
            self.meters.failed(Operation::Read, e);
        }
        Some(answer)
    }

    /// [`RawStore::exist`].
    pub async fn exist(&self, id: &SessionId) -> Result<bool> {
        self.measured(Operation::Exist, self.raw.exist(id)).await
    }

    /// [`RawStore::insert`].
    pub async fn insert(&self, id: &SessionId, record: Write<'_>) -> Result<Inserted> {
        let inserted = self
            .measured(Operation::Insert, self.raw.insert(id, record))
            .await?;
        if let Inserted::Created(_) = inserted {
            self.meters.written(record.body.len());
        }
        Ok(inserted)
    }

    /// [`RawStore::save`].
    pub async fn save(
        &self,
        id: &SessionId,
        expected: Version,
        record: Write<'_>,
    ) -> Result<Saved> {
        let saved = self
            .measured(Operation::Save, self.raw.save(id, expected, record))
            .await?;
        if let Saved::Saved(_) = saved {
            self.meters.written(record.body.len());
        }
        Ok(saved)
    }

    /// [`RawStore::touch`].
    pub async fn touch(&self, id: &SessionId, expires_at: Millis, ttl_ms: Millis) -> Result<bool> {
        self.measured(Operation::Touch, self.raw.touch(id, expires_at, ttl_ms))
            .await
    }

    /// [`RawStore::destroy`].
    pub async fn destroy(&self, id: &SessionId) -> Result<bool> {
        self.measured(Operation::Destroy, self.raw.destroy(id))
            .await
    }

    /// [`RawStore::regenerate`].
    pub async fn regenerate(
        &self,
        old: &SessionId,
        expected: Version,
        new: &SessionId,
        record: Write<'_>,
    ) -> Result<Moved> {
        let moved = self
            .measured(
                Operation::Regenerate,
                self.raw.regenerate(old, expected, new, record),
            )
            .await?;
        if let Moved::Moved(_) = moved {
            self.meters.written(record.body.len());
        }
        Ok(moved)
    }

    /// [`RawStore::count`].
    pub async fn count(&self, now: Millis) -> Result<u64> {
        self.measured(Operation::Count, self.raw.count(now)).await
    }

    /// [`RawStore::gc`].
    pub async fn gc(&self, now: Millis) -> Result<u64> {
        self.measured(Operation::Gc, self.raw.gc(now)).await
    }

    /// [`RawStore::owner_sessions`].
    pub async fn owner_sessions(&self, owner: &str, now: Millis) -> Result<Vec<SessionId>> {
        self.measured(
            Operation::OwnerSessions,
            self.raw.owner_sessions(owner, now),
        )
        .await
    }
}
