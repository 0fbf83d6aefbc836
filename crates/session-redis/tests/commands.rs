//! How many Redis commands each operation costs, counted by a proxy between the store and a
//! private redis-server (no MONITOR, no shared server statistics).

// Test helpers outside #[test] functions panic on failure too: that is the point.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use session_core::{Manager, MockClock, Options, RawStore, Registry, SessionId, Write};
use session_redis::testing::proxy::CountingProxy;
use session_redis::testing::server::RedisServer;
use session_redis::{RedisProvider, RedisStore};

async fn setup() -> (RedisServer, CountingProxy, Manager, MockClock) {
    let server = RedisServer::start().unwrap();
    let proxy = CountingProxy::start(server.addr()).await.unwrap();
    let registry = Registry::new().with(RedisProvider).unwrap();
    let options = Options {
        provider: "redis".into(),
        provider_config: format!("addr={}", proxy.addr()),
        max_lifetime: Some(Duration::from_secs(600)),
        touch_interval: Duration::from_secs(10),
        ..Options::default()
    };
    let clock = MockClock::default();
    let manager = Manager::new_with_clock(options, &registry, Arc::new(clock.clone()))
        .await
        .unwrap();
    // Connection handshake and script loading happen at open; not part of any operation.
    proxy.take();
    (server, proxy, manager, clock)
}

fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_per_request() {
    let (_server, proxy, manager, clock) = setup().await;

    let session = manager.load([]);
    session.set("user", "alice").await.unwrap();
    let cookie = pair(&session.commit().await.unwrap().set_cookie.unwrap());
    assert_eq!(proxy.take(), 1, "creating a session: one insert script");

    let session = manager.load([cookie.as_str()]);
    assert_eq!(
        session.get::<String>("user").await.unwrap().as_deref(),
        Some("alice")
    );
    session.commit().await.unwrap();
    assert_eq!(proxy.take(), 1, "reading an unchanged session: one GET");

    let session = manager.load([cookie.as_str()]);
    session.set("theme", "dark").await.unwrap();
    session.commit().await.unwrap();
    assert_eq!(
        proxy.take(),
        2,
        "changing a session: one GET and one save script"
    );

    clock.advance(Duration::from_secs(11));
    let session = manager.load([cookie.as_str()]);
    session.get::<String>("user").await.unwrap();
    session.commit().await.unwrap();
    assert_eq!(
        proxy.take(),
        2,
        "a read past the touch interval: GET and one touch script"
    );

    assert_eq!(manager.count().await.unwrap(), 1);
    assert_eq!(
        proxy.take(),
        1,
        "count: one script over every index shard (ZCOUNT and the slack window)"
    );

    let session = manager.load([cookie.as_str()]);
    session.destroy().await.unwrap();
    session.commit().await.unwrap();
    assert!(
        proxy.take() <= 2,
        "destroy: at most a read and one destroy script"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_per_store_operation() {
    let server = RedisServer::start().unwrap();
    let proxy = CountingProxy::start(server.addr()).await.unwrap();
    let config = format!("addr={}", proxy.addr()).parse().unwrap();
    let store = RedisStore::open(config, &session_redis::testing::context())
        .await
        .unwrap();
    proxy.take();
    let id = SessionId::generate(32).unwrap();
    let now = 1_000_000;
    let write = Write {
        body: b"body",
        expires_at: now + 60_000,
        ttl_ms: 60_000,
        owner: Some("alice"),
    };
    let session_core::Inserted::Created(v) = store.insert(&id, write).await.unwrap() else {
        panic!("insert did not create");
    };
    assert_eq!(proxy.take(), 1, "insert");
    store.read(&id).await.unwrap().unwrap();
    assert_eq!(proxy.take(), 1, "read");
    store.save(&id, v, write).await.unwrap();
    assert_eq!(proxy.take(), 1, "save");
    assert!(store.touch(&id, now + 120_000, 120_000).await.unwrap());
    assert_eq!(proxy.take(), 1, "touch");
    assert!(store.exist(&id).await.unwrap());
    assert_eq!(proxy.take(), 1, "exist");
    assert_eq!(store.count(now).await.unwrap(), 1);
    assert_eq!(proxy.take(), 1, "count");
    assert_eq!(store.gc(now).await.unwrap(), 0);
    assert_eq!(proxy.take(), 1, "gc of one small batch");
    assert!(store.destroy(&id).await.unwrap());
    assert_eq!(proxy.take(), 1, "destroy");
}

/// A server that forgot the scripts (restarted without persistence, `SCRIPT FLUSH`, a
/// replica promoted before the scripts reached it) answers `NOSCRIPT`: every session write
/// loads its script again and goes through, once per script.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_go_through_after_the_server_forgot_the_scripts() {
    let (server, proxy, manager, _clock) = setup().await;
    let flush =
        || session_redis::testing::server::redis_cli(server.port(), &["SCRIPT", "FLUSH"]).unwrap();

    flush();
    let session = manager.load([]);
    session.set("user", "alice").await.unwrap();
    let cookie = pair(&session.commit().await.unwrap().set_cookie.unwrap());
    assert_eq!(
        proxy.take(),
        3,
        "insert: EVALSHA (NOSCRIPT), SCRIPT LOAD, EVALSHA"
    );

    flush();
    let session = manager.load([cookie.as_str()]);
    session.set("theme", "dark").await.unwrap();
    session.commit().await.unwrap();
    assert_eq!(proxy.take(), 4, "GET, then the save: NOSCRIPT, load, again");

    let session = manager.load([cookie.as_str()]);
    assert_eq!(
        session.get::<String>("theme").await.unwrap().as_deref(),
        Some("dark")
    );
    proxy.take();

    flush();
    let session = manager.load([cookie.as_str()]);
    session.destroy().await.unwrap();
    session.commit().await.unwrap();
    let session = manager.load([cookie.as_str()]);
    assert_eq!(session.get::<String>("user").await.unwrap(), None);
}
