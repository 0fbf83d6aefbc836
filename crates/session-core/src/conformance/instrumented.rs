//! A store wrapper that counts calls and injects faults, for provider-independent cases.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use async_trait::async_trait;

use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::id::SessionId;
use crate::store::{Capabilities, Inserted, Moved, RawStore, Saved, Stored, Version, Write};

/// Wraps a store, counting every call and failing on demand.
pub struct Instrumented {
    inner: Arc<dyn RawStore>,
    calls: AtomicU64,
    saves: AtomicU64,
    touches: AtomicU64,
    gcs: AtomicU64,
    down: AtomicBool,
    failing_gcs: AtomicU32,
}

impl Instrumented {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn RawStore>) -> Self {
        Instrumented {
            inner,
            calls: AtomicU64::new(0),
            saves: AtomicU64::new(0),
            touches: AtomicU64::new(0),
            gcs: AtomicU64::new(0),
            down: AtomicBool::new(false),
            failing_gcs: AtomicU32::new(0),
        }
    }

    /// Calls of any operation so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// Calls of `save` and `insert` so far.
    pub fn writes(&self) -> u64 {
        self.saves.load(Ordering::SeqCst)
    }

    /// Calls of `touch` so far.
    pub fn touches(&self) -> u64 {
        self.touches.load(Ordering::SeqCst)
    }

    /// Calls of `gc` so far.
    pub fn gcs(&self) -> u64 {
        self.gcs.load(Ordering::SeqCst)
    }

    /// Makes every operation fail with a backend error (true) or work again (false).
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Makes the next `n` GC passes fail.
    pub fn fail_next_gcs(&self, n: u32) {
        self.failing_gcs.store(n, Ordering::SeqCst);
    }

    fn enter(&self) -> Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            Err(Error::backend(self.inner.provider(), "injected outage"))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl RawStore for Instrumented {
    fn provider(&self) -> &'static str {
        self.inner.provider()
    }

    async fn read(&self, id: &SessionId) -> Result<Option<Stored>> {
        self.enter()?;
        self.inner.read(id).await
    }

    /// Forwarded, so the cases also cover core's synchronous path for stores that answer
    /// in memory: counted and failed like `read` when the inner store answers this way.
    fn read_in_memory(&self, id: &str) -> Option<Result<Option<(SessionId, Stored)>>> {
        let answer = self.inner.read_in_memory(id)?;
        Some(self.enter().and(answer))
    }

    async fn exist(&self, id: &SessionId) -> Result<bool> {
        self.enter()?;
        self.inner.exist(id).await
    }

    async fn insert(&self, id: &SessionId, record: Write<'_>) -> Result<Inserted> {
        self.enter()?;
        self.saves.fetch_add(1, Ordering::SeqCst);
        self.inner.insert(id, record).await
    }

    async fn save(&self, id: &SessionId, expected: Version, record: Write<'_>) -> Result<Saved> {
        self.enter()?;
        self.saves.fetch_add(1, Ordering::SeqCst);
        self.inner.save(id, expected, record).await
    }

    async fn touch(&self, id: &SessionId, expires_at: Millis, ttl_ms: Millis) -> Result<bool> {
        self.enter()?;
        self.touches.fetch_add(1, Ordering::SeqCst);
        self.inner.touch(id, expires_at, ttl_ms).await
    }

    async fn destroy(&self, id: &SessionId) -> Result<bool> {
        self.enter()?;
        self.inner.destroy(id).await
    }

    async fn regenerate(
        &self,
        old: &SessionId,
        expected: Version,
        new: &SessionId,
        record: Write<'_>,
    ) -> Result<Moved> {
        self.enter()?;
        self.saves.fetch_add(1, Ordering::SeqCst);
        self.inner.regenerate(old, expected, new, record).await
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn count(&self, now: Millis) -> Result<u64> {
        self.enter()?;
        self.inner.count(now).await
    }

    async fn gc(&self, now: Millis) -> Result<u64> {
        self.enter()?;
        self.gcs.fetch_add(1, Ordering::SeqCst);
        let failing = self.failing_gcs.load(Ordering::SeqCst);
        if failing > 0 {
            self.failing_gcs.store(failing - 1, Ordering::SeqCst);
            return Err(Error::backend(self.inner.provider(), "injected gc failure"));
        }
        self.inner.gc(now).await
    }

    async fn owner_sessions(&self, owner: &str, now: Millis) -> Result<Vec<SessionId>> {
        self.enter()?;
        self.inner.owner_sessions(owner, now).await
    }
}
