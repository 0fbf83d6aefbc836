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
//! without sleeping.
//!
//! Cases that need an optional operation (count, the owner index, GC) ask the store's
//! [`RawStore::capabilities`] first and are marked unsupported, without a call, when it
//! declares the capability missing. The declaration is held to what the store does: the case
//! `capabilities_match_behaviour` calls each optional operation and fails when a declared one
//! answers [`Error::Unsupported`] or an undeclared one answers anything else, and a case that
//! runs fails on any `Unsupported` error.
//!
//! Test wrappers around a store (one that keeps a test server or a temporary directory alive,
//! one that counts calls) implement [`Wrapper`], which forwards every operation, or use
//! [`Forward`] when all they add is something to keep alive. `Wrapper` and [`Call`] live in
//! core ([`crate::wrapper`]), since [`crate::Encrypted`] is one too; they are re-exported
//! here for the tests that name them from this module.
//!
//! [`Manager`]: crate::Manager
//! [`RawStore::capabilities`]: crate::RawStore::capabilities
//! [`Error::Unsupported`]: crate::Error::Unsupported

mod cases;
mod context;
mod factory;
mod forward;
mod instrumented;

use std::fmt::Write as _;
use std::time::Duration;

pub use factory::{StoreFactory, StoreFuture};
pub use forward::Forward;
pub use instrumented::Instrumented;

pub use crate::wrapper::{Call, Wrapper};

use crate::clock::MockClock;
use context::{Ctx, Failure};

/// How one case ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every assertion held.
    Passed,
    /// The store declares that it lacks a capability the case needs; the case did not run.
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
    cases::ALL.iter().map(|case| case.name).collect()
}

/// Runs every case against stores from `factory`.
pub async fn run(factory: &dyn StoreFactory) -> Report {
    run_only(factory, |_| true).await
}

/// Runs the cases whose name `filter` accepts.
pub async fn run_only(factory: &dyn StoreFactory, filter: impl Fn(&str) -> bool) -> Report {
    let mut report = Report::default();
    for case in cases::ALL {
        if !filter(case.name) {
            continue;
        }
        let ctx = Ctx {
            factory,
            clock: MockClock::default(),
            needs: case.needs,
        };
        let outcome = match tokio::time::timeout(Duration::from_secs(120), (case.run)(&ctx)).await {
            Ok(Ok(provider)) => {
                report.provider = provider.to_owned();
                Outcome::Passed
            }
            Ok(Err(Failure::Unsupported(why))) => Outcome::Unsupported(why),
            Ok(Err(Failure::Failed(why))) => Outcome::Failed(why),
            Err(_) => Outcome::Failed("timed out after 120 s".into()),
        };
        report.cases.push(CaseReport {
            name: case.name,
            outcome,
        });
    }
    report
}
