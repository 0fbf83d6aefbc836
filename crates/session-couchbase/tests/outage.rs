//! Backend failures seen through the manager: a stopped server, TMPFAIL, dropped connections,
//! and failures at startup. These need fault injection, so they always run against the
//! in-repo test server.

mod common;

use std::time::Duration;

use couchbase_testserver::{Clock, TestServer};
use session_core::{Error, Manager, Options, Registry, Session};
use session_couchbase::CouchbaseProvider;

/// Short operation bounds keep the outage tests quick; nothing asserts on how long anything
/// takes.
const FAST: &str = "timeout=1s&connect_timeout=5s";

async fn manager(config: String) -> session_core::Result<Manager> {
    let registry = Registry::new().with(CouchbaseProvider)?;
    let options = Options {
        provider: "couchbase".into(),
        provider_config: config,
        ..Options::default()
    };
    Manager::new(options, &registry).await
}

fn pair(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

async fn create(m: &Manager) -> String {
    let s = m.load([]);
    s.set("k", "v").await.expect("set");
    pair(
        &s.commit()
            .await
            .expect("commit")
            .set_cookie
            .expect("a new session sets a cookie"),
    )
}

/// The session's value, retried until the backend answers (it reconnects on its own).
async fn read_when_back(m: &Manager, cookie: &str) -> Option<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let s = m.load([cookie]);
        match s.get::<String>("k").await {
            Ok(v) => {
                let commit = s.commit().await.expect("commit after recovery");
                assert_eq!(
                    commit.set_cookie, None,
                    "a recovered read changed the cookie"
                );
                return v;
            }
            Err(e) if e.is_backend() && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("the backend did not come back: {e}"),
        }
    }
}

/// Asserts the request failed with a backend error and its commit sets no cookie.
async fn assert_backend_failure(s: Session, first: session_core::Result<()>, what: &str) {
    match first {
        Err(Error::Backend { .. }) => {}
        other => panic!("{what}: expected Error::Backend, got {other:?}"),
    }
    match s.commit().await {
        Err(e) => assert!(e.is_backend(), "{what}: commit failed with {e}"),
        Ok(commit) => assert_eq!(
            commit.set_cookie, None,
            "{what}: commit replaced the cookie"
        ),
    }
}

/// Every kind of request, during an outage: each fails with `Error::Backend` and none sends a
/// `Set-Cookie`.
async fn assert_requests_fail(m: &Manager, cookie: &str, what: &str) {
    let s = m.load([cookie]);
    let r = s.get::<String>("k").await.map(|_| ());
    assert_backend_failure(s, r, &format!("{what}: read")).await;

    let s = m.load([cookie]);
    let r = s.set("k", "changed").await;
    let r = match r {
        Ok(()) => s.commit().await.map(|c| {
            assert_eq!(c.set_cookie, None, "{what}: a failed write sent a cookie");
        }),
        Err(e) => Err(e),
    };
    match r {
        Err(Error::Backend { .. }) => {}
        other => panic!("{what}: write: expected Error::Backend, got {other:?}"),
    }

    // A new visitor: the session cannot be stored, so it must not get a cookie for it.
    let s = m.load([]);
    s.set("k", "new")
        .await
        .expect("set on a new session is in memory");
    match s.commit().await {
        Err(Error::Backend { .. }) => {}
        other => panic!("{what}: new session: expected Error::Backend, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stopped_server_gives_backend_errors_and_the_manager_recovers() {
    let server = common::server(Clock::system(), Vec::new()).await;
    let m = manager(common::local_config(&server, FAST))
        .await
        .expect("manager");
    let cookie = create(&m).await;

    server.stop().await;
    assert_requests_fail(&m, &cookie, "stopped").await;

    server.restart().await.expect("restart on the same port");
    assert_eq!(
        read_when_back(&m, &cookie).await.as_deref(),
        Some("v"),
        "the session was lost"
    );
    // Writes work again too.
    let s = m.load([cookie.as_str()]);
    s.set("k", "after").await.expect("set");
    assert_eq!(s.commit().await.expect("commit").set_cookie, None);
    assert_eq!(read_when_back(&m, &cookie).await.as_deref(), Some("after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tmpfail_gives_backend_errors_and_the_manager_recovers() {
    let server = common::server(Clock::system(), Vec::new()).await;
    let m = manager(common::local_config(&server, FAST))
        .await
        .expect("manager");
    let cookie = create(&m).await;

    server.set_tmpfail(true);
    assert_requests_fail(&m, &cookie, "tmpfail").await;

    server.set_tmpfail(false);
    assert_eq!(
        read_when_back(&m, &cookie).await.as_deref(),
        Some("v"),
        "the session was lost"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dropped_connections_are_survived() {
    let server = common::server(Clock::system(), Vec::new()).await;
    let m = manager(common::local_config(&server, FAST))
        .await
        .expect("manager");
    let cookie = create(&m).await;
    for _ in 0..3 {
        server.drop_connections().await;
        assert_eq!(read_when_back(&m, &cookie).await.as_deref(), Some("v"));
    }
}

fn assert_open_fails_with_backend(result: session_core::Result<Manager>, what: &str) {
    match result {
        Err(Error::Backend { .. }) => {}
        Err(other) => panic!("{what}: expected Error::Backend, got {other}"),
        Ok(_) => panic!("{what}: the manager opened"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn startup_failures_are_backend_errors() {
    let server = common::server(Clock::system(), vec![("app".into(), "sessions".into())]).await;
    let bounds = "timeout=1s&connect_timeout=2s";

    let wrong_password = format!(
        "couchbase://app:wrong@{}/{}?{bounds}",
        server.addr(),
        server.bucket()
    );
    assert_open_fails_with_backend(manager(wrong_password).await, "wrong password");

    server.set_refuse_auth(true);
    assert_open_fails_with_backend(
        manager(common::local_config(&server, bounds)).await,
        "auth refused",
    );
    server.set_refuse_auth(false);

    let unknown_bucket = common::local_config(&server, bounds).replace("/sessions?", "/nope?");
    assert_open_fails_with_backend(manager(unknown_bucket).await, "unknown bucket");

    let unknown_collection =
        common::local_config(&server, &format!("{bounds}&scope=app&collection=nope"));
    assert_open_fails_with_backend(manager(unknown_collection).await, "unknown collection");

    let named = common::local_config(&server, &format!("{bounds}&scope=app&collection=sessions"));
    manager(named)
        .await
        .expect("an existing named collection opens");

    server.stop().await;
    assert_open_fails_with_backend(
        manager(common::local_config(&server, bounds)).await,
        "nothing listening",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_errors_name_the_key() {
    let server: TestServer = common::server(Clock::system(), Vec::new()).await;
    match manager(common::local_config(&server, "colour=red")).await {
        Err(Error::Config { field, .. }) => assert_eq!(field, "colour"),
        other => panic!("expected a config error, got {:?}", other.err()),
    }
}
