//! What a case gets and how it fails: the factory, the mock clock and the capabilities the case
//! needs.

use std::sync::Arc;
use std::time::Duration;

use super::factory::StoreFactory;
use super::instrumented::Instrumented;
use crate::clock::{Clock, Millis, MockClock, duration_millis};
use crate::error::Error;
use crate::manager::Manager;
use crate::options::Options;
use crate::store::{Capabilities, ProviderContext, RawStore};

/// Why a case did not pass.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The store declares that it lacks a capability the case needs.
    Unsupported(String),
    Failed(String),
}

impl From<Error> for Failure {
    /// Every error fails the case, [`Error::Unsupported`] included: a case runs only when the
    /// store declares what it needs, so an unsupported answer contradicts the declaration.
    fn from(e: Error) -> Self {
        if e.is_unsupported() {
            Failure::Failed(format!(
                "{e}, although the store's capabilities() declare what this case uses"
            ))
        } else {
            Failure::Failed(format!("unexpected error: {e}"))
        }
    }
}

/// A case's result: the provider's name when it passed.
pub(crate) type CaseResult = std::result::Result<&'static str, Failure>;

/// What a case gets: the factory, the shared mock clock, and what the case needs.
pub(crate) struct Ctx<'a> {
    pub(crate) factory: &'a dyn StoreFactory,
    pub(crate) clock: MockClock,
    pub(crate) needs: Capabilities,
}

impl Ctx<'_> {
    /// The options every case starts from: a small record limit every backend can hold.
    pub(crate) fn options(&self) -> Options {
        Options {
            max_lifetime: Some(Duration::from_secs(60)),
            touch_interval: Duration::from_secs(1),
            max_record_size: 64 * 1024,
            ..Options::default()
        }
    }

    /// The mock clock's current time.
    pub(crate) fn clock_now(&self) -> Millis {
        self.clock.now()
    }

    /// A fresh store, or [`Failure::Unsupported`] before any call when its declared
    /// capabilities lack one the case needs.
    pub(crate) async fn store(
        &self,
        options: &Options,
    ) -> std::result::Result<Arc<dyn RawStore>, Failure> {
        let clock: Arc<dyn Clock> = Arc::new(self.clock.clone());
        let store = self
            .factory
            .open(ProviderContext {
                clock,
                max_record_size: options.max_record_size,
                max_lifetime_ms: duration_millis(options.idle_lifetime()),
            })
            .await?;
        match lacking(self.needs, store.capabilities()) {
            Some(capability) => Err(Failure::Unsupported(format!(
                "{} declares no {capability}",
                store.provider()
            ))),
            None => Ok(store),
        }
    }

    /// A manager over a fresh store, and the store itself wrapped to count calls.
    pub(crate) async fn manager(
        &self,
        options: Options,
    ) -> std::result::Result<(Manager, Arc<Instrumented>), Failure> {
        let store = Arc::new(Instrumented::new(self.store(&options).await?));
        let manager = Manager::with_store(options, store.clone(), Arc::new(self.clock.clone()))?;
        Ok((manager, store))
    }
}

/// The first capability in `needs` that `has` lacks.
fn lacking(needs: Capabilities, has: Capabilities) -> Option<&'static str> {
    [
        (needs.count && !has.count, "count"),
        (needs.owner_index && !has.owner_index, "owner index"),
        (needs.gc && !has.gc, "gc"),
    ]
    .into_iter()
    .find_map(|(missing, name)| missing.then_some(name))
}

/// Fails the case with `message` unless `cond` holds.
pub(crate) fn check(
    cond: bool,
    message: impl FnOnce() -> String,
) -> std::result::Result<(), Failure> {
    if cond {
        Ok(())
    } else {
        Err(Failure::Failed(message()))
    }
}
