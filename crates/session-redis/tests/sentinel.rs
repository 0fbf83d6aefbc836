//! Sentinel mode (`ha_mode=sentinel`): the conformance suite through a sentinel, and a
//! failover under a running `Manager`. Every server is started by the test on free ports.

// Test helpers outside #[test] functions panic on failure too: that is the point.
#![allow(clippy::unwrap_used)]

use session_redis::testing;

use std::time::{Duration, Instant};

use session_core::conformance;
use session_core::{Manager, Options, Provider, ProviderContext, Registry};
use session_redis::RedisProvider;
use session_redis::testing::server::{RedisServer, redis_cli};

const MASTER: &str = "sessions-master";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sentinel_passes_the_conformance_suite() {
    let master = RedisServer::start().unwrap();
    let sentinel = RedisServer::start_sentinel(MASTER, master.port()).unwrap();
    let sentinel_addr = sentinel.addr();
    let report = conformance::run(&|ctx: ProviderContext| {
        let config = format!(
            "ha_mode=sentinel,master_name={MASTER},sentinel_addrs={sentinel_addr},prefix={}",
            testing::unique_prefix().unwrap()
        );
        async move { RedisProvider.open(&config, &ctx).await }
    })
    .await;
    println!("{}", report.table());
    report.assert_passed();
}

fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_manager_follows_a_failover() {
    let mut master = RedisServer::start().unwrap();
    let replica_of = master.port().to_string();
    let replica = RedisServer::start_with(&[
        "--save",
        "",
        "--appendonly",
        "no",
        "--replicaof",
        "127.0.0.1",
        &replica_of,
    ])
    .unwrap();
    let sentinel = RedisServer::start_sentinel(MASTER, master.port()).unwrap();

    let registry = Registry::new().with(RedisProvider).unwrap();
    let options = Options {
        provider: "redis".into(),
        provider_config: format!(
            "ha_mode=sentinel,master_name={MASTER},sentinel_addrs={}|127.0.0.1:1,dial_timeout=2",
            sentinel.addr()
        ),
        ..Options::default()
    };
    let manager = Manager::new(options, &registry).await.unwrap();
    let session = manager.load([]);
    session.set("user", "alice").await.unwrap();
    let cookie = pair(&session.commit().await.unwrap().set_cookie.unwrap());
    // The write must have reached the replica before the master dies.
    let acked = redis_cli(master.port(), &["WAIT", "1", "10000"]).unwrap();
    assert_eq!(
        acked.trim(),
        "1",
        "the replica did not acknowledge the write"
    );

    master.kill();
    // Wait until the sentinel has switched its master entry (what clients are told) to the
    // promoted replica and no longer flags it as down or failing over.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let reply = redis_cli(sentinel.port(), &["SENTINEL", "MASTER", MASTER]).unwrap();
        let fields: Vec<&str> = reply.lines().collect();
        let field = |name: &str| {
            fields
                .chunks(2)
                .find(|kv| kv[0] == name)
                .and_then(|kv| kv.get(1).copied())
        };
        if field("port") == Some(replica.port().to_string().as_str())
            && field("flags") == Some("master")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "sentinel never promoted the replica"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Requests that still reach the dead master fail as backend errors; once the store has
    // asked the sentinel again, the same manager serves the promoted replica's data.
    let value = loop {
        let session = manager.load([cookie.as_str()]);
        match session.get::<String>("user").await {
            Ok(value) => {
                session.commit().await.unwrap();
                break value;
            }
            Err(e) => {
                assert!(e.is_backend(), "failover surfaced as {e:?}");
                assert!(
                    Instant::now() < deadline,
                    "the manager never reached the new master: {e}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    assert_eq!(value.as_deref(), Some("alice"));
    let session = manager.load([cookie.as_str()]);
    session.set("after", "failover").await.unwrap();
    session.commit().await.unwrap();
    assert_eq!(manager.count().await.unwrap(), 1);
}
