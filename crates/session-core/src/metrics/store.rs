//! [`MeteredStore`]: a store around a store that times every operation, measures the records
//! it writes and counts its failures.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use metrics::Histogram;

use super::{BACKEND_ERRORS, OPERATION_DURATION, RECORD_SIZE};
use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::id::SessionId;
use crate::store::{Capabilities, Inserted, Moved, RawStore, Saved, Stored, Version, Write};

/// A [`RawStore`] operation, as the `operation` label names it.
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

/// The `kind` label of an error: `backend` (the backend failed: an outage), `unsupported`,
/// `corrupt`, `capacity_exceeded`, `too_large`, `config` or `other`.
pub fn error_kind(error: &Error) -> &'static str {
    match error {
        Error::Backend { .. } => "backend",
        Error::Unsupported { .. } => "unsupported",
        Error::Corrupt(_) => "corrupt",
        Error::CapacityExceeded { .. } => "capacity_exceeded",
        Error::TooLarge { .. } => "too_large",
        Error::Config { .. } => "config",
        _ => "other",
    }
}

/// Wraps a store to record, labelled with its provider's name, the latency of every
/// operation (`session_store_operation_duration_seconds`), the size of every record written
/// (`session_record_size_bytes`) and every failure by kind (`session_backend_errors_total`);
/// see [the module docs](super).
///
/// [`crate::Manager::with_store`] applies it; a store is wrapped by hand only to measure it
/// outside a manager. It changes no answer of the store it wraps: the conformance suite
/// passes through it.
pub struct MeteredStore {
    inner: Arc<dyn RawStore>,
    provider: &'static str,
    /// One handle per [`Operation`], in [`Operation::ALL`] order.
    latency: [Histogram; Operation::ALL.len()],
    record_size: Histogram,
}

impl std::fmt::Debug for MeteredStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeteredStore")
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

impl MeteredStore {
    /// Wraps `inner`, registering its series with the recorder installed now.
    pub fn new(inner: Arc<dyn RawStore>) -> Self {
        let provider = inner.provider();
        MeteredStore {
            latency: Operation::ALL.map(|op| {
                metrics::histogram!(OPERATION_DURATION, "provider" => provider, "operation" => op.as_str())
            }),
            record_size: metrics::histogram!(RECORD_SIZE, "provider" => provider),
            provider,
            inner,
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &Arc<dyn RawStore> {
        &self.inner
    }

    /// Runs `call`, recording its time and, when it fails, its error.
    async fn timed<T>(&self, op: Operation, call: impl Future<Output = Result<T>>) -> Result<T> {
        let start = Instant::now();
        let result = call.await;
        self.latency[op as usize].record(start.elapsed());
        if let Err(e) = &result {
            self.failed(op, e);
        }
        result
    }

    /// Counts a failed operation. Registered on the spot: failures are rare, and the
    /// kinds × operations that never happen then add no series.
    fn failed(&self, op: Operation, error: &Error) {
        metrics::counter!(
            BACKEND_ERRORS,
            "provider" => self.provider,
            "operation" => op.as_str(),
            "kind" => error_kind(error),
        )
        .increment(1);
    }

    /// Records a write of `record` that took place.
    fn written(&self, record: &Write<'_>) {
        // Exact: a record is far below 2^53 bytes.
        #[allow(clippy::cast_precision_loss)]
        self.record_size.record(record.body.len() as f64);
    }
}

#[async_trait]
impl RawStore for MeteredStore {
    fn provider(&self) -> &'static str {
        self.provider
    }

    async fn read(&self, id: &SessionId) -> Result<Option<Stored>> {
        self.timed(Operation::Read, self.inner.read(id)).await
    }

    fn read_in_memory(&self, id: &str) -> Option<Result<Option<(SessionId, Stored)>>> {
        let answer = self.inner.read_in_memory(id)?;
        if let Err(e) = &answer {
            self.failed(Operation::Read, e);
        }
        Some(answer)
    }

    async fn exist(&self, id: &SessionId) -> Result<bool> {
        self.timed(Operation::Exist, self.inner.exist(id)).await
    }

    async fn insert(&self, id: &SessionId, record: Write<'_>) -> Result<Inserted> {
        let inserted = self
            .timed(Operation::Insert, self.inner.insert(id, record))
            .await?;
        if let Inserted::Created(_) = inserted {
            self.written(&record);
        }
        Ok(inserted)
    }

    async fn save(&self, id: &SessionId, expected: Version, record: Write<'_>) -> Result<Saved> {
        let saved = self
            .timed(Operation::Save, self.inner.save(id, expected, record))
            .await?;
        if let Saved::Saved(_) = saved {
            self.written(&record);
        }
        Ok(saved)
    }

    async fn touch(&self, id: &SessionId, expires_at: Millis, ttl_ms: Millis) -> Result<bool> {
        self.timed(Operation::Touch, self.inner.touch(id, expires_at, ttl_ms))
            .await
    }

    async fn destroy(&self, id: &SessionId) -> Result<bool> {
        self.timed(Operation::Destroy, self.inner.destroy(id)).await
    }

    async fn regenerate(
        &self,
        old: &SessionId,
        expected: Version,
        new: &SessionId,
        record: Write<'_>,
    ) -> Result<Moved> {
        let moved = self
            .timed(
                Operation::Regenerate,
                self.inner.regenerate(old, expected, new, record),
            )
            .await?;
        if let Moved::Moved(_) = moved {
            self.written(&record);
        }
        Ok(moved)
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn count(&self, now: Millis) -> Result<u64> {
        self.timed(Operation::Count, self.inner.count(now)).await
    }

    async fn gc(&self, now: Millis) -> Result<u64> {
        self.timed(Operation::Gc, self.inner.gc(now)).await
    }

    async fn owner_sessions(&self, owner: &str, now: Millis) -> Result<Vec<SessionId>> {
        self.timed(
            Operation::OwnerSessions,
            self.inner.owner_sessions(owner, now),
        )
        .await
    }
}
