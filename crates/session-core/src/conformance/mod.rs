//! The provider conformance suite, as a library (feature `conformance`).
//!
//! One call runs every case against a provider:
//!
//! ```ignore
//! let report = session_core::conformance::run(&|ctx: ProviderContext| async move {
//!     MyProvider.open("my config", &ctx).await
//! }).await;
//! report.assert_passed();
//! ```
//!
//! The factory must return a fresh, isolated store on every call (its own key prefix, table,
//! directory, ...): cases count sessions and must not see each other's. Every case drives the
//! store through a real [`Manager`] with a [`MockClock`], so expiry is tested at the boundary
//! without sleeping. A case that needs an operation the provider reports as
//! [`Error::Unsupported`] is marked unsupported, not failed.

mod cases;
mod instrumented;

use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub use instrumented::Instrumented;

use crate::clock::{Clock, MockClock, duration_millis};
use crate::error::{Error, Result};
use crate::manager::Manager;
use crate::options::Options;
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

/// How one case ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every assertion held.
    Passed,
    /// The provider reported the operation as unsupported.
    Unsupported(String),
    /// An assertion failed or an unexpected error occurred.
    Failed(String),
}

/// One case's result.
#[derive(Debug, Clone)]
pub struct CaseReport {
    /// The case name.
    pub name: &'static str,
    /// How it ended.
    pub outcome: Outcome,
}

/// The results of a whole run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The provider's name, as its store reports it.
    pub provider: String,
    /// Every case in order.
    pub cases: Vec<CaseReport>,
}

impl Report {
    /// Whether no case failed.
    pub fn passed(&self) -> bool {
        self.cases
            .iter()
            .all(|c| !matches!(c.outcome, Outcome::Failed(_)))
    }

    /// A human-readable table of every case.
    pub fn table(&self) -> String {
        let mut out = format!("conformance: {}\n", self.provider);
        for case in &self.cases {
            let (mark, detail) = match &case.outcome {
                Outcome::Passed => ("pass", String::new()),
                Outcome::Unsupported(why) => ("unsupported", format!(" ({why})")),
                Outcome::Failed(why) => ("FAIL", format!(": {why}")),
            };
            let _ = writeln!(out, "  {:<34} {mark}{detail}", case.name);
        }
        out
    }

    /// Panics with the table when a case failed.
    #[track_caller]
    pub fn assert_passed(&self) {
        assert!(self.passed(), "{}", self.table());
    }
}

/// The names of every case, in run order.
pub fn case_names() -> Vec<&'static str> {
    cases::ALL.iter().map(|(name, _)| *name).collect()
}

/// Runs every case against stores from `factory`.
pub async fn run(factory: &dyn StoreFactory) -> Report {
    run_only(factory, |_| true).await
}

/// Runs the cases whose name `filter` accepts.
pub async fn run_only(factory: &dyn StoreFactory, filter: impl Fn(&str) -> bool) -> Report {
    let mut report = Report::default();
    for (name, case) in cases::ALL {
        if !filter(name) {
            continue;
        }
        let clock = MockClock::default();
        let ctx = Ctx {
            factory,
            clock: clock.clone(),
        };
        let outcome = match tokio::time::timeout(Duration::from_secs(120), case(&ctx)).await {
            Ok(Ok(provider)) => {
                report.provider = provider.to_owned();
                Outcome::Passed
            }
            Ok(Err(Failure::Unsupported(why))) => Outcome::Unsupported(why),
            Ok(Err(Failure::Failed(why))) => Outcome::Failed(why),
            Err(_) => Outcome::Failed("timed out after 120 s".into()),
        };
        report.cases.push(CaseReport { name, outcome });
    }
    report
}

/// Why a case did not pass.
#[derive(Debug)]
pub(crate) enum Failure {
    Unsupported(String),
    Failed(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        if e.is_unsupported() {
            Failure::Unsupported(e.to_string())
        } else {
            Failure::Failed(format!("unexpected error: {e}"))
        }
    }
}

pub(crate) type CaseResult = std::result::Result<&'static str, Failure>;

/// What a case gets: the factory and the shared mock clock.
pub(crate) struct Ctx<'a> {
    factory: &'a dyn StoreFactory,
    pub(crate) clock: MockClock,
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

    pub(crate) async fn store(&self, options: &Options) -> Result<Arc<dyn RawStore>> {
        let clock: Arc<dyn Clock> = Arc::new(self.clock.clone());
        self.factory
            .open(ProviderContext {
                clock,
                max_record_size: options.max_record_size,
                max_lifetime_ms: duration_millis(options.idle_lifetime()),
            })
            .await
    }

    /// A manager over a fresh store, and the store itself wrapped to count calls.
    pub(crate) async fn manager(&self, options: Options) -> Result<(Manager, Arc<Instrumented>)> {
        let store = Arc::new(Instrumented::new(self.store(&options).await?));
        let manager = Manager::with_store(options, store.clone(), Arc::new(self.clock.clone()))?;
        Ok((manager, store))
    }
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
