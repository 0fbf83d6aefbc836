//! The outage policy: with the store down, `fail` reports the backend error, `anonymous`
//! serves an empty read-only session, refuses writes, stores nothing and sends no cookie,
//! and stays so for the rest of the request even when the store comes back.

#![cfg(feature = "conformance")]
// Test helpers outside #[test] functions panic on failure too: that is the point.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use session_core::clock::duration_millis;
use session_core::conformance::Instrumented;
use session_core::{Error, Manager, MockClock, Options, OutagePolicy, ProviderContext};
use session_memory::{MemoryConfig, MemoryStore};

struct Fixture {
    manager: Manager,
    store: Arc<Instrumented>,
    clock: MockClock,
    /// A stored session's `Cookie` header: `user` = "ada", owner "ada".
    cookie: String,
}

async fn fixture(policy: OutagePolicy) -> Fixture {
    let options = Options {
        outage_policy: policy,
        ..Options::default()
    };
    let clock = MockClock::new(1_000_000);
    let ctx = ProviderContext {
        clock: Arc::new(clock.clone()),
        max_record_size: options.max_record_size,
        max_lifetime_ms: duration_millis(options.idle_lifetime()),
    };
    let memory = MemoryStore::open(MemoryConfig::default(), &ctx).expect("memory store");
    let store = Arc::new(Instrumented::new(Arc::new(memory)));
    let manager =
        Manager::with_store(options, store.clone(), Arc::new(clock.clone())).expect("manager");
    let session = manager.load([]);
    session.set("user", "ada").await.expect("set");
    session.set_owner(Some("ada")).await.expect("owner");
    let set_cookie = session.commit().await.expect("commit").set_cookie;
    let cookie = set_cookie
        .as_deref()
        .and_then(|c| c.split(';').next())
        .expect("a new session sets its cookie")
        .to_owned();
    Fixture {
        manager,
        store,
        clock,
        cookie,
    }
}

fn assert_refused<T: std::fmt::Debug>(result: session_core::Result<T>, operation: &str) {
    match result {
        Err(Error::Degraded { operation: op }) => assert_eq!(op, operation),
        other => panic!("{operation}: expected Error::Degraded, got {other:?}"),
    }
}

#[tokio::test]
async fn anonymous_serves_an_empty_session_and_refuses_every_write() {
    let f = fixture(OutagePolicy::Anonymous).await;
    f.store.set_down(true);
    let session = f.manager.load([f.cookie.as_str()]);
    assert_eq!(session.get::<String>("user").await.unwrap(), None);
    assert!(session.is_degraded().await);
    assert!(session.keys().await.unwrap().is_empty());
    assert!(!session.contains("user").await.unwrap());
    assert_eq!(session.id().await.unwrap(), None);
    assert_eq!(session.owner().await.unwrap(), None);

    assert_refused(session.set("user", "eve").await, "set");
    assert_refused(session.delete("user").await, "delete");
    assert_refused(session.flush().await, "flush");
    assert_refused(session.set_owner(Some("eve")).await, "set_owner");
    assert_refused(session.regenerate().await, "regenerate");
    assert_refused(session.destroy().await, "destroy");
    assert_refused(
        session.destroy_other_sessions().await,
        "destroy_other_sessions",
    );
    // The refusals are the handler's to answer: the commit itself succeeds, sends nothing.
    assert_eq!(session.commit().await.unwrap().set_cookie, None);
    f.store.set_down(false);

    let after = f.manager.load([f.cookie.as_str()]);
    assert_eq!(
        after.get::<String>("user").await.unwrap().as_deref(),
        Some("ada")
    );
    assert_eq!(after.owner().await.unwrap().as_deref(), Some("ada"));
    assert!(!after.is_degraded().await);
}

#[tokio::test]
async fn the_first_use_may_be_a_write_and_is_refused() {
    let f = fixture(OutagePolicy::Anonymous).await;
    f.store.set_down(true);
    let session = f.manager.load([f.cookie.as_str()]);
    assert_refused(session.set("visited", "yes").await, "set");
    assert!(session.is_degraded().await);
    assert_eq!(session.commit_without_io().unwrap().set_cookie, None);
}

#[tokio::test]
async fn fail_reports_the_backend_error_at_use_and_at_commit() {
    let f = fixture(OutagePolicy::Fail).await;
    f.store.set_down(true);
    let session = f.manager.load([f.cookie.as_str()]);
    let read = session.get::<String>("user").await;
    assert!(matches!(read, Err(ref e) if e.is_backend()), "{read:?}");
    assert!(!session.is_degraded().await);
    // Even when the handler swallowed the error, the commit reports it (503, no cookie).
    assert!(session.commit().await.unwrap_err().is_backend());
}

#[tokio::test]
async fn a_request_overrides_the_managers_policy_before_first_use() {
    let f = fixture(OutagePolicy::Fail).await;
    f.store.set_down(true);
    let session = f.manager.load([f.cookie.as_str()]);
    assert_eq!(session.outage_policy(), OutagePolicy::Fail);
    session.set_outage_policy(OutagePolicy::Anonymous);
    assert_eq!(session.outage_policy(), OutagePolicy::Anonymous);
    assert_eq!(session.get::<String>("user").await.unwrap(), None);
    assert_eq!(session.commit().await.unwrap().set_cookie, None);

    let f = fixture(OutagePolicy::Anonymous).await;
    f.store.set_down(true);
    let session = f.manager.load([f.cookie.as_str()]);
    assert_eq!(session.outage_policy(), OutagePolicy::Anonymous);
    session.set_outage_policy(OutagePolicy::Fail);
    assert!(
        session
            .get::<String>("user")
            .await
            .unwrap_err()
            .is_backend()
    );
}

/// The store comes back while the request runs: the request stays anonymous to its end and
/// writes nothing (its handler acted on an empty session); the next request sees the data.
#[tokio::test]
async fn a_store_that_recovers_mid_request_is_used_from_the_next_request() {
    let f = fixture(OutagePolicy::Anonymous).await;
    let writes = f.store.writes();
    f.store.set_down(true);
    let session = f.manager.load([f.cookie.as_str()]);
    assert_eq!(session.get::<String>("user").await.unwrap(), None);
    f.store.set_down(false);
    let calls = f.store.calls();

    assert_eq!(session.get::<String>("user").await.unwrap(), None);
    assert_refused(session.set("user", "eve").await, "set");
    assert!(session.is_degraded().await);
    assert_eq!(session.commit().await.unwrap().set_cookie, None);
    assert_eq!(
        f.store.calls(),
        calls,
        "the degraded request called the store"
    );
    assert_eq!(f.store.writes(), writes);

    let next = f.manager.load([f.cookie.as_str()]);
    assert_eq!(
        next.get::<String>("user").await.unwrap().as_deref(),
        Some("ada")
    );
}

/// A visitor without a cookie reads nothing from the store, so only the commit of a new
/// session meets the outage: that is the usual backend error, and no cookie is issued.
#[tokio::test]
async fn a_new_visitors_write_fails_at_commit_without_a_cookie() {
    let f = fixture(OutagePolicy::Anonymous).await;
    f.store.set_down(true);
    let session = f.manager.load([]);
    assert_eq!(session.get::<String>("user").await.unwrap(), None);
    assert!(!session.is_degraded().await);
    session.set("visited", "yes").await.unwrap();
    assert!(session.commit().await.unwrap_err().is_backend());
}

/// The store fails after a successful read: the expiry refresh of an unchanged session is
/// skipped under `anonymous` (nothing the handler asked for is lost), reported under `fail`;
/// a change the handler made is reported under both.
#[tokio::test]
async fn a_failure_after_the_read_is_reported_unless_only_a_refresh_was_due() {
    for policy in [OutagePolicy::Anonymous, OutagePolicy::Fail] {
        let f = fixture(policy).await;
        // Past the touch interval: reading the session makes an expiry refresh due.
        f.clock.advance(Duration::from_secs(600));
        let reader = f.manager.load([f.cookie.as_str()]);
        assert_eq!(
            reader.get::<String>("user").await.unwrap().as_deref(),
            Some("ada")
        );
        let writer = f.manager.load([f.cookie.as_str()]);
        writer.set("theme", "dark").await.unwrap();
        f.store.set_down(true);
        let refreshed = reader.commit().await;
        match policy {
            OutagePolicy::Anonymous => assert_eq!(refreshed.unwrap().set_cookie, None),
            OutagePolicy::Fail => assert!(refreshed.unwrap_err().is_backend()),
        }
        assert!(
            writer.commit().await.unwrap_err().is_backend(),
            "{policy}: a lost change must be reported"
        );
        assert!(!reader.is_degraded().await);
    }
}
