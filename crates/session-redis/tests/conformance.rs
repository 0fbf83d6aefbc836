//! The whole provider conformance suite against the machine's Redis (127.0.0.1:6379).

// Test helpers outside #[test] functions panic on failure too: that is the point.
#![allow(clippy::unwrap_used)]

use session_redis::testing;

use session_core::conformance;
use session_core::{Error, Manager, Options, Provider, ProviderContext, Registry};
use session_redis::RedisProvider;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_passes_the_conformance_suite() {
    testing::require_redis(testing::LOCAL_REDIS).await.unwrap();
    let report = conformance::run(&|ctx: ProviderContext| async move {
        // Every case gets its own prefix: the suite counts sessions.
        let config = format!(
            "addr={},prefix={}",
            testing::LOCAL_REDIS,
            testing::unique_prefix().unwrap()
        );
        RedisProvider.open(&config, &ctx).await
    })
    .await;
    println!("{}", report.table());
    report.assert_passed();
}

/// The same suite with the near cache on: reads answered from memory must still see every
/// write, destroy and expiry the contract requires.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_with_near_cache_passes_the_conformance_suite() {
    testing::require_redis(testing::LOCAL_REDIS).await.unwrap();
    let report = conformance::run(&|ctx: ProviderContext| async move {
        let config = format!(
            "addr={},near_cache=1000,prefix={}",
            testing::LOCAL_REDIS,
            testing::unique_prefix().unwrap()
        );
        RedisProvider.open(&config, &ctx).await
    })
    .await;
    println!("{}", report.table());
    report.assert_passed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_url_form_passes_the_conformance_suite() {
    testing::require_redis(testing::LOCAL_REDIS).await.unwrap();
    let report = conformance::run(&|ctx: ProviderContext| async move {
        let config = format!(
            "redis://{}/3?prefix={}",
            testing::LOCAL_REDIS,
            testing::unique_prefix().unwrap()
        );
        RedisProvider.open(&config, &ctx).await
    })
    .await;
    report.assert_passed();
}

/// Macaron's positional form (`address,pool_size,password`) against a private server that
/// requires a password, and a wrong password is an error at open, not a hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positional_form_with_password() {
    let server = testing::server::RedisServer::start_with(&[
        "--save",
        "",
        "--appendonly",
        "no",
        "--requirepass",
        "s3cret",
    ])
    .unwrap();
    let registry = Registry::new().with(RedisProvider).unwrap();
    let options = |config: String| Options {
        provider: "redis".into(),
        provider_config: config,
        ..Options::default()
    };
    let manager = Manager::new(options(format!("{},100,s3cret", server.addr())), &registry)
        .await
        .unwrap();
    let session = manager.load([]);
    session.set("k", "v").await.unwrap();
    assert!(session.commit().await.unwrap().set_cookie.is_some());
    assert_eq!(manager.count().await.unwrap(), 1);

    let wrong = Manager::new(options(format!("{},100,wrong", server.addr())), &registry).await;
    assert!(
        matches!(
            wrong,
            Err(Error::Backend {
                provider: "redis",
                ..
            })
        ),
        "a wrong password must fail at open"
    );
}

/// `network=unix` reaches a server over its Unix socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("redis.sock");
    let socket = socket.to_str().unwrap();
    let _server = testing::server::RedisServer::start_with(&[
        "--save",
        "",
        "--appendonly",
        "no",
        "--unixsocket",
        socket,
    ])
    .unwrap();
    let registry = Registry::new().with(RedisProvider).unwrap();
    let options = Options {
        provider: "redis".into(),
        provider_config: format!("network=unix,addr={socket},prefix=unix:"),
        ..Options::default()
    };
    let manager = Manager::new(options, &registry).await.unwrap();
    let session = manager.load([]);
    session.set("over", "unix").await.unwrap();
    let cookie = session.commit().await.unwrap().set_cookie.unwrap();
    let cookie = cookie.split(';').next().unwrap();
    let session = manager.load([cookie]);
    assert_eq!(
        session.get::<String>("over").await.unwrap().as_deref(),
        Some("unix")
    );
}
