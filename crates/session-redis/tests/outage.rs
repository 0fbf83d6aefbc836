//! Redis goes away while requests run and comes back on the same port: sessions fail with
//! `Error::Backend` (adapters answer 503) and never hand out a replacement cookie, and the same
//! `Manager` works again afterwards.

// Test helpers outside #[test] functions panic on failure too: that is the point.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use session_core::{Error, Manager, Options, Registry};
use session_redis::RedisProvider;
use session_redis::testing::server::RedisServer;

/// A manager on `server`; `extra` is appended to the provider config (`,near_cache=100`).
async fn manager_for(server: &RedisServer, extra: &str) -> Manager {
    let registry = Registry::new().with(RedisProvider).unwrap();
    let options = Options {
        provider: "redis".into(),
        provider_config: format!("addr={},prefix=outage:{extra}", server.addr()),
        ..Options::default()
    };
    Manager::new(options, &registry).await.unwrap()
}

fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().trim().to_owned()
}

/// One request that stores `value` under `key` in a new session; returns its cookie.
async fn create(manager: &Manager, key: &str, value: &str) -> String {
    let session = manager.load([]);
    session.set(key, value).await.unwrap();
    pair(&session.commit().await.unwrap().set_cookie.unwrap())
}

async fn get(manager: &Manager, cookie: &str, key: &str) -> Result<Option<String>, Error> {
    let session = manager.load([cookie]);
    let value = session.get::<String>(key).await?;
    let commit = session.commit().await?;
    assert!(
        commit.set_cookie.is_none(),
        "a read replaced the cookie: {:?}",
        commit.set_cookie
    );
    Ok(value)
}

/// A request that changes an existing session, as handlers do during the outage.
async fn bump(manager: &Manager, cookie: &str, n: u64) -> Result<(), Error> {
    let session = manager.load([cookie]);
    session.get::<String>("user").await?;
    session.set("counter", &n).await?;
    let commit = session.commit().await?;
    if let Some(set) = commit.set_cookie {
        assert!(
            set.starts_with(cookie),
            "a write replaced the client's cookie: {set}"
        );
    }
    Ok(())
}

fn assert_backend(result: Result<impl std::fmt::Debug, Error>, what: &str) {
    match result {
        Err(e)
            if e.is_backend()
                && matches!(
                    e,
                    Error::Backend {
                        provider: "redis",
                        ..
                    }
                ) => {}
        other => panic!("{what}: expected Error::Backend from redis, got {other:?}"),
    }
}

/// Requests keep running while the server is killed; returns the cookies created before.
async fn outage(server: &mut RedisServer, manager: &Manager) -> Vec<String> {
    let cookies: Vec<String> = {
        let mut v = Vec::new();
        for i in 0..5 {
            v.push(create(manager, "user", &format!("user{i}")).await);
        }
        v
    };

    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for (w, cookie) in cookies.iter().enumerate() {
        let manager = manager.clone();
        let cookie = cookie.clone();
        let stop = stop.clone();
        workers.push(tokio::spawn(async move {
            let mut failures = 0u64;
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                match bump(&manager, &cookie, n * 10 + w as u64).await {
                    Ok(()) => {}
                    Err(e) => {
                        assert!(e.is_backend(), "outage surfaced as {e:?}");
                        failures += 1;
                    }
                }
                tokio::task::yield_now().await;
            }
            failures
        }));
    }
    // Let the workers get going, then pull the plug under them.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    server.kill();
    // With the near cache on, a session read just before the kill may still be answered
    // until the dropped tracking connection is noticed; then the cache is empty.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    for cookie in &cookies {
        let id = cookie.split_once('=').unwrap().1;
        while manager.store().read_in_memory(id).is_some() {
            assert!(
                std::time::Instant::now() < deadline,
                "the near cache still answers after the server died"
            );
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }

    // While the server is down, every kind of request is a backend error.
    assert_backend(get(manager, &cookies[0], "user").await, "read");
    assert_backend(bump(manager, &cookies[0], 1).await, "write");
    let fresh = manager.load([]);
    fresh.set("k", "v").await.unwrap();
    assert_backend(fresh.commit().await, "commit of a new session");
    let unknown = manager.load(["MacaronSession=00000000000000000000000000000000"]);
    assert_backend(unknown.get::<String>("k").await, "read of an unknown ID");
    let destroying = manager.load([cookies[1].as_str()]);
    assert_backend(destroying.destroy().await, "destroy");
    assert_backend(manager.count().await, "count");
    assert_backend(manager.gc().await, "gc");

    stop.store(true, Ordering::SeqCst);
    let mut failures = 0;
    for worker in workers {
        failures += worker.await.unwrap();
    }
    assert!(failures > 0, "no request ran into the outage");
    cookies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outage_then_restart_without_persistence() {
    restart_without_persistence("").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outage_then_restart_with_the_near_cache_on() {
    restart_without_persistence(",near_cache=100").await;
}

async fn restart_without_persistence(extra: &str) {
    let mut server = RedisServer::start().unwrap();
    let manager = manager_for(&server, extra).await;
    let cookies = outage(&mut server, &manager).await;

    server.restart().unwrap();
    // Same manager, not rebuilt. The data is gone (no persistence), which reads as an
    // unknown session, and new sessions work again.
    assert_eq!(get(&manager, &cookies[0], "user").await.unwrap(), None);
    let cookie = create(&manager, "after", "restart").await;
    assert_eq!(
        get(&manager, &cookie, "after").await.unwrap().as_deref(),
        Some("restart")
    );
    assert_eq!(manager.count().await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outage_then_restart_with_aof_keeps_the_data() {
    let mut server = RedisServer::start_with(&[
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ])
    .unwrap();
    let manager = manager_for(&server, "").await;
    let cookies = outage(&mut server, &manager).await;

    server.restart().unwrap();
    for (i, cookie) in cookies.iter().enumerate() {
        assert_eq!(
            get(&manager, cookie, "user").await.unwrap(),
            Some(format!("user{i}")),
            "session {i} lost its data over the restart"
        );
    }
    // The session whose destroy failed during the outage is still there, intact.
    assert!(get(&manager, &cookies[1], "user").await.unwrap().is_some());
    // Writes work again on the same manager.
    bump(&manager, &cookies[2], 99).await.unwrap();
    let session = manager.load([cookies[2].as_str()]);
    assert_eq!(session.get::<u64>("counter").await.unwrap(), Some(99));
    session.commit().await.unwrap();
    assert_eq!(manager.count().await.unwrap(), 5);
}
