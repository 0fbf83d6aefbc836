//! Test wrappers built on `conformance::Wrapper` forward every operation, and the conformance
//! suite holds a store to the capabilities it declares.

#![cfg(feature = "conformance")]

use std::sync::Arc;

use session_core::conformance::{self, Forward, Instrumented, Outcome, Report, Wrapper};
use session_core::{
    Capabilities, Clock as _, Error, Inserted, Millis, Provider as _, ProviderContext, RawStore,
    Result, SessionId, SystemClock, Write,
};
use session_memory::{MemoryProvider, MemoryStore};

/// A wrapper that writes nothing but `inner`.
struct Bare(Arc<dyn RawStore>);

impl Wrapper for Bare {
    fn inner(&self) -> &dyn RawStore {
        &*self.0
    }
}

/// A memory store whose `capabilities()` and optional operations are changed per test.
struct Declaring {
    inner: Arc<dyn RawStore>,
    declared: Capabilities,
    /// The optional operations answer `Unsupported` instead of being forwarded.
    refuse: bool,
}

impl Wrapper for Declaring {
    fn inner(&self) -> &dyn RawStore {
        &*self.inner
    }

    fn capabilities(&self) -> Capabilities {
        self.declared
    }

    async fn count(&self, now: Millis) -> Result<u64> {
        if self.refuse {
            return Err(Error::unsupported("memory", "count"));
        }
        self.inner.count(now).await
    }

    async fn owner_sessions(&self, owner: &str, now: Millis) -> Result<Vec<SessionId>> {
        if self.refuse {
            return Err(Error::unsupported("memory", "owner index"));
        }
        self.inner.owner_sessions(owner, now).await
    }
}

/// A record that stays live for a minute of wall-clock time.
fn live_record() -> Write<'static> {
    Write {
        body: b"\x01body",
        expires_at: SystemClock.now() + 60_000,
        ttl_ms: 60_000,
        owner: None,
    }
}

async fn suite_with(declared: Capabilities, refuse: bool, only: &[&str]) -> Report {
    conformance::run_only(
        &move |ctx: ProviderContext| async move {
            let inner = MemoryProvider.open("", &ctx).await?;
            let store: Arc<dyn RawStore> = Arc::new(Declaring {
                inner,
                declared,
                refuse,
            });
            Ok(store)
        },
        |name| only.is_empty() || only.contains(&name),
    )
    .await
}

fn outcome<'r>(report: &'r Report, case: &str) -> &'r Outcome {
    &report
        .cases
        .iter()
        .find(|c| c.name == case)
        .unwrap_or_else(|| panic!("{case} did not run:\n{}", report.table()))
        .outcome
}

#[tokio::test]
async fn a_wrapper_answers_read_in_memory_like_its_inner_store() -> Result<()> {
    let memory = Arc::new(MemoryStore::default());
    let stored = SessionId::generate(32)?;
    let record = live_record();
    assert!(matches!(
        memory.insert(&stored, record).await?,
        Inserted::Created(_)
    ));
    let unknown = SessionId::generate(32)?;
    let wrappers: [(&str, Arc<dyn RawStore>); 3] = [
        ("Bare", Arc::new(Bare(memory.clone()))),
        ("Forward", Arc::new(Forward::new(memory.clone(), ()))),
        ("Instrumented", Arc::new(Instrumented::new(memory.clone()))),
    ];
    for (name, wrapper) in wrappers {
        for id in [&stored, &unknown] {
            let inner = memory
                .read_in_memory(id.as_str())
                .expect("the memory store answers in memory")?;
            let outer = wrapper
                .read_in_memory(id.as_str())
                .unwrap_or_else(|| panic!("{name} did not forward read_in_memory"))?;
            assert_eq!(outer, inner, "{name}");
        }
        let found = wrapper
            .read_in_memory(stored.as_str())
            .expect("an answer")?;
        assert_eq!(found.map(|(key, _)| key), Some(stored.clone()), "{name}");
    }
    Ok(())
}

#[tokio::test]
async fn a_wrapper_forwards_what_it_does_not_override() -> Result<()> {
    let memory: Arc<dyn RawStore> = Arc::new(MemoryStore::default());
    let wrapper = Declaring {
        inner: memory.clone(),
        declared: Capabilities::NONE,
        refuse: true,
    };
    assert_eq!(RawStore::capabilities(&wrapper), Capabilities::NONE);
    assert_eq!(
        RawStore::capabilities(&Bare(memory.clone())),
        Capabilities::ALL
    );
    assert_eq!(RawStore::provider(&wrapper), "memory");
    let id = SessionId::generate(32)?;
    let record = live_record();
    RawStore::insert(&wrapper, &id, record).await?;
    assert!(memory.exist(&id).await?, "insert was not forwarded");
    assert!(RawStore::read(&wrapper, &id).await?.is_some());
    assert!(RawStore::count(&wrapper, SystemClock.now()).await.is_err());
    assert_eq!(memory.count(SystemClock.now()).await?, 1);
    Ok(())
}

#[tokio::test]
async fn a_store_that_declares_what_it_lacks_passes_with_those_cases_unsupported() {
    let declared = Capabilities {
        count: false,
        owner_index: false,
        gc: true,
    };
    let report = suite_with(declared, true, &[]).await;
    report.assert_passed();
    for case in ["count_live_sessions", "owner_index"] {
        assert!(
            matches!(outcome(&report, case), Outcome::Unsupported(_)),
            "{case}:\n{}",
            report.table()
        );
    }
    assert_eq!(
        outcome(&report, "capabilities_match_behaviour"),
        &Outcome::Passed
    );
    assert_eq!(outcome(&report, "no_record_until_data"), &Outcome::Passed);
}

#[tokio::test]
async fn a_store_that_hides_a_capability_fails_the_suite() {
    let declared = Capabilities {
        count: false,
        ..Capabilities::ALL
    };
    let report = suite_with(
        declared,
        false,
        &["count_live_sessions", "capabilities_match_behaviour"],
    )
    .await;
    assert!(!report.passed(), "{}", report.table());
    assert!(matches!(
        outcome(&report, "count_live_sessions"),
        Outcome::Unsupported(_)
    ));
    let Outcome::Failed(why) = outcome(&report, "capabilities_match_behaviour") else {
        panic!("{}", report.table());
    };
    assert!(why.contains("declares no count"), "{why}");
}

#[tokio::test]
async fn a_store_that_claims_a_capability_it_lacks_fails_the_suite() {
    let report = suite_with(
        Capabilities::ALL,
        true,
        &[
            "no_record_until_data",
            "count_live_sessions",
            "owner_index",
            "capabilities_match_behaviour",
        ],
    )
    .await;
    for case in [
        "no_record_until_data",
        "count_live_sessions",
        "owner_index",
        "capabilities_match_behaviour",
    ] {
        assert!(
            matches!(outcome(&report, case), Outcome::Failed(_)),
            "{case}:\n{}",
            report.table()
        );
    }
}

#[test]
fn the_cases_keep_their_order() {
    assert_eq!(
        conformance::case_names(),
        [
            "round_trip_types",
            "unknown_id_gets_new_id",
            "exist",
            "insert_if_absent",
            "conditional_save_conflict",
            "touch_refreshes_expiry_only",
            "untouched_request_costs_nothing",
            "no_record_until_data",
            "write_only_when_changed",
            "emptied_session_deleted",
            "concurrent_writers_lose_nothing",
            "regenerate_kills_old_id",
            "concurrent_regenerates_do_not_fork",
            "destroy_is_not_undone",
            "idle_expiry_at_boundary",
            "absolute_lifetime",
            "remembered_session_lifetime",
            "persistent_lifetime_bounded",
            "rotation_grace_window",
            "concurrent_rotations_do_not_fork",
            "gc_removes_expired",
            "gc_keeps_refreshed",
            "gc_task_survives_errors",
            "count_live_sessions",
            "owner_index",
            "devices_are_listed",
            "devices_last_seen_absolute",
            "devices_revoke_by_handle",
            "devices_handles_stable",
            "devices_metadata_opt_in",
            "owner_cap_needs_owner_index",
            "owner_cap_evict_concurrent",
            "owner_cap_refuse_concurrent",
            "capabilities_match_behaviour",
            "record_size_limit",
            "malformed_record_reads_absent",
            "invalid_ids_never_reach_provider",
            "backend_error_is_typed",
            "hashed_and_signed_ids",
        ]
    );
}
