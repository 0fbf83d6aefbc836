//! The lifecycle hooks without the `metrics` feature: they record nothing and cost nothing,
//! and the store is not wrapped.

use std::sync::Arc;

use crate::events::Event;
use crate::store::RawStore;

/// Nothing is recorded, so the GC task counts nothing.
pub(crate) const RECORDS: bool = false;

/// Records nothing.
pub(crate) struct Lifecycle;

impl Lifecycle {
    pub(crate) fn new(_provider: &'static str) -> Self {
        Lifecycle
    }

    pub(crate) fn event(&self, _event: &Event) {}

    pub(crate) fn loaded(&self) {}

    pub(crate) fn saved(&self) {}

    pub(crate) fn gc_removed(&self, _n: u64) {}

    pub(crate) fn live(&self, _n: u64) {}
}

/// The store as it is.
pub(crate) fn metered(store: Arc<dyn RawStore>) -> Arc<dyn RawStore> {
    store
}
