//! The whole provider conformance suite, against the in-repo Couchbase test server (or a real
//! cluster when `COUCHBASE_URL` is set).

mod common;

use std::sync::Arc;
use std::time::Duration;

use session_core::conformance::{self, Instrumented, Outcome};
use session_core::{
    Clock as _, Manager, MockClock, Options, Provider as _, ProviderContext, RawStore as _,
};

/// Operations Couchbase's key-value API cannot do; these cases must report unsupported.
/// (Couchbase expires documents itself, so this provider has no GC; what
/// `gc_task_survives_errors` checks that still applies is checked by
/// `gc_task_keeps_running_with_this_provider` below.)
const UNSUPPORTED: &[&str] = &[
    "gc_removes_expired",
    "gc_keeps_refreshed",
    "gc_task_survives_errors",
    "count_live_sessions",
    "owner_index",
    // A user's devices and the per-owner cap are built on the owner index.
    "devices_are_listed",
    "devices_last_seen_absolute",
    "devices_revoke_by_handle",
    "devices_handles_stable",
    "devices_metadata_opt_in",
    "owner_cap_evict_concurrent",
    "owner_cap_refuse_concurrent",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn couchbase_passes_the_conformance_suite() {
    let report = conformance::run(&common::open_store).await;
    println!("{}", report.table());
    report.assert_passed();
    for case in &report.cases {
        let expected_unsupported = UNSUPPORTED.contains(&case.name);
        assert_eq!(
            matches!(case.outcome, Outcome::Unsupported(_)),
            expected_unsupported,
            "{}: {:?}",
            case.name,
            case.outcome
        );
    }
    assert_eq!(report.cases.len(), conformance::case_names().len());
}

/// What `gc_task_survives_errors` checks, as it applies to a provider whose backend expires
/// sessions: the GC task keeps running through errors, an expired session is gone, and the
/// task stops when told.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gc_task_keeps_running_with_this_provider() {
    if common::real_cluster().is_some() {
        // A real cluster expires documents by the wall clock, which this test cannot move.
        println!("the real cluster's clock cannot be moved; checked against the test server only");
    }
    let clock = MockClock::default();
    let options = Options {
        max_lifetime: Some(Duration::from_secs(60)),
        ..Options::default()
    };
    let ctx = ProviderContext {
        clock: Arc::new(clock.clone()),
        max_record_size: options.max_record_size,
        max_lifetime_ms: 60_000,
    };
    let case_clock = clock.clone();
    let server = common::server(
        couchbase_testserver::Clock::from_fn(move || case_clock.now()),
        Vec::new(),
    )
    .await;
    let store = session_couchbase::CouchbaseProvider
        .open(&common::local_config(&server, ""), &ctx)
        .await
        .expect("the provider opens");
    let store = Arc::new(Instrumented::new(store));
    let manager =
        Manager::with_store(options, store.clone(), Arc::new(clock.clone())).expect("manager");

    let session = manager.load([]);
    session.set("k", "v").await.expect("set");
    let cookie = session
        .commit()
        .await
        .expect("commit")
        .set_cookie
        .expect("a cookie");
    let cookie = cookie.split(';').next().unwrap_or_default().to_owned();
    let id = session.id().await.expect("id").expect("an id");

    clock.advance(Duration::from_secs(61));
    store.fail_next_gcs(2);
    let handle = manager.start_gc_every(Duration::from_millis(20));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while store.gcs() < 5 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(store.gcs() >= 5, "gc ran {} times", store.gcs());
    assert!(handle.is_running(), "the gc task ended after errors");
    assert!(
        !store.exist(&id).await.expect("exist"),
        "Couchbase kept an expired session"
    );
    let s = manager.load([cookie.as_str()]);
    assert_eq!(
        s.get::<String>("k").await.expect("get"),
        None,
        "an expired session loaded"
    );
    handle.stop().await;
    let after = store.gcs();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(store.gcs(), after, "gc kept running after stop");
}
