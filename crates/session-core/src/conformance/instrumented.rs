//! A store wrapper that counts calls and injects faults, for provider-independent cases.
//!
//! Built on [`Wrapper`], so every operation is forwarded, `read_in_memory` included: the cases
//! then cover core's synchronous read path for stores that answer in memory, counted and
//! failed like `read`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use crate::backend::Operation;
use crate::error::{Error, Result};
use crate::store::RawStore;
use crate::wrapper::{Call, Wrapper};

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
}

impl Wrapper for Instrumented {
    fn inner(&self) -> &dyn RawStore {
        &*self.inner
    }

    /// Counts the call, then fails it during an outage or an injected GC failure.
    fn on_call(&self, call: Call) -> Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err(Error::backend(self.inner.provider(), "injected outage"));
        }
        match call.operation() {
            Operation::Insert | Operation::Save | Operation::Regenerate => {
                self.saves.fetch_add(1, Ordering::SeqCst);
            }
            Operation::Touch => {
                self.touches.fetch_add(1, Ordering::SeqCst);
            }
            Operation::Gc => {
                self.gcs.fetch_add(1, Ordering::SeqCst);
                let failing = self.failing_gcs.load(Ordering::SeqCst);
                if failing > 0 {
                    self.failing_gcs.store(failing - 1, Ordering::SeqCst);
                    return Err(Error::backend(self.inner.provider(), "injected gc failure"));
                }
            }
            _ => {}
        }
        Ok(())
    }
}
