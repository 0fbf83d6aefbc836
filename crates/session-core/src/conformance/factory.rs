//! How the suite gets a store: a factory the provider's test hands to [`super::run`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::error::Result;
use crate::store::{ProviderContext, RawStore};

/// A boxed future returned by a [`StoreFactory`].
pub type StoreFuture = Pin<Box<dyn Future<Output = Result<Arc<dyn RawStore>>> + Send>>;

/// Opens a fresh, isolated store for one case.
pub trait StoreFactory: Send + Sync {
    /// Opens a store with this context (its clock is the case's mock clock).
    fn open(&self, ctx: ProviderContext) -> StoreFuture;
}

impl<F, Fut> StoreFactory for F
where
    F: Fn(ProviderContext) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Arc<dyn RawStore>>> + Send + 'static,
{
    fn open(&self, ctx: ProviderContext) -> StoreFuture {
        Box::pin(self(ctx))
    }
}
