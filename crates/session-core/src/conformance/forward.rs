//! [`Forward`]: a test store that only keeps something alive beside the store it wraps.

use std::sync::Arc;

use crate::store::RawStore;
use crate::wrapper::Wrapper;

/// A store that forwards everything to another and keeps `guard` alive as long as it lives:
/// the test server or temporary directory the inner store uses.
pub struct Forward<G = ()> {
    inner: Arc<dyn RawStore>,
    guard: G,
}

impl<G: Send + Sync + 'static> Forward<G> {
    /// Wraps `inner`, keeping `guard` until the store is dropped.
    pub fn new(inner: Arc<dyn RawStore>, guard: G) -> Self {
        Forward { inner, guard }
    }

    /// What the store keeps alive.
    pub fn guard(&self) -> &G {
        &self.guard
    }
}

impl<G: Send + Sync + 'static> Wrapper for Forward<G> {
    fn inner(&self) -> &dyn RawStore {
        &*self.inner
    }
}
