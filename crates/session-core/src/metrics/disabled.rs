//! The metrics hooks without the `metrics` feature: they record nothing and cost nothing.

use std::future::Future;

use crate::backend::Operation;
use crate::error::{Error, Result};
use crate::events::Event;

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

/// Measures nothing: operations run as they are.
pub(crate) struct StoreMeters;

impl StoreMeters {
    pub(crate) fn new(_provider: &'static str) -> Self {
        StoreMeters
    }

    pub(crate) async fn time<T>(
        &self,
        _op: Operation,
        call: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        call.await
    }

    pub(crate) fn failed(&self, _op: Operation, _error: &Error) {}

    pub(crate) fn written(&self, _len: usize) {}
}
