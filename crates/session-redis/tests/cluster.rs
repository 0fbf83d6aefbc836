//! The whole conformance suite against a Redis Cluster of three masters that this test
//! starts on free loopback ports and kills at the end.

// Test helpers outside #[test] functions panic on failure too: that is the point.
#![allow(clippy::unwrap_used)]

use session_redis::testing;

use session_core::conformance;
use session_core::{Provider, ProviderContext};
use session_redis::testing::cluster::RedisCluster;
use session_redis::{RedisProvider, RedisStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_cluster_passes_the_conformance_suite() {
    let cluster = RedisCluster::start(3).unwrap();
    let addrs = cluster.addrs().join("|");
    let report = conformance::run(&|ctx: ProviderContext| {
        let config = format!(
            "cluster=true,addrs={addrs},prefix={}",
            testing::unique_prefix().unwrap()
        );
        async move { RedisProvider.open(&config, &ctx).await }
    })
    .await;
    println!("{}", report.table());
    report.assert_passed();
    drop(cluster);
}

/// A store on `cluster` under a prefix of its own.
async fn store_on(cluster: &RedisCluster) -> RedisStore {
    let config = cluster
        .provider_config(&testing::unique_prefix().unwrap())
        .parse()
        .unwrap();
    RedisStore::open(config, &testing::context()).await.unwrap()
}

/// On a cluster the index is a second command after the session write. This checks the
/// documented repair paths: a lost index entry comes back on the next touch, a phantom entry
/// (record gone) is never listed and is dropped by GC once expired, and the keys of one
/// session share a slot while the index sits in its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_index_lags_and_heals() {
    use redis::AsyncCommands as _;
    use session_core::{RawStore, SessionId, Write};

    let cluster = RedisCluster::start(3).unwrap();
    let prefix = testing::unique_prefix().unwrap();
    let config = cluster.provider_config(&prefix).parse().unwrap();
    let store = RedisStore::open(config, &testing::context()).await.unwrap();
    assert!(store.is_cluster());
    let client = redis::cluster::ClusterClient::new(
        cluster
            .addrs()
            .iter()
            .map(|a| format!("redis://{a}/"))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let mut admin = client.get_async_connection().await.unwrap();

    let now = 1_000_000;
    let write = |expires_at| Write {
        body: b"data",
        expires_at,
        ttl_ms: 60_000,
        owner: Some("alice"),
    };
    let a = SessionId::generate(32).unwrap();
    let b = SessionId::generate(32).unwrap();
    store.insert(&a, write(now + 10_000)).await.unwrap();
    store.insert(&b, write(now + 10_000)).await.unwrap();
    assert_eq!(store.count(now).await.unwrap(), 2);

    let slot = |key: String| {
        let mut admin = admin.clone();
        async move {
            redis::cmd("CLUSTER")
                .arg("KEYSLOT")
                .arg(key)
                .query_async::<u16>(&mut admin)
                .await
                .unwrap()
        }
    };
    for (n, shard) in testing::index_keys(&prefix).into_iter().enumerate() {
        assert_eq!(
            usize::from(slot(shard).await) / 1024,
            n,
            "index shard {n} lies outside its sixteenth of the slots"
        );
    }
    let index = testing::index_key(&prefix, a.as_str());
    let owner_set = testing::owner_key(&prefix, "alice");
    let owner_shard = testing::index_keys(&prefix)
        .into_iter()
        .find(|shard| owner_set.starts_with(&format!("{shard}:")))
        .unwrap();
    assert_eq!(
        slot(owner_set).await,
        slot(owner_shard).await,
        "an owner's set lives in the slot of one of the index shards"
    );
    assert_eq!(
        slot(format!("{prefix}{{{}}}", a.as_str())).await,
        slot(a.as_str().to_owned()).await,
        "a session key hashes by its ID alone"
    );

    // A lost index update: the entry is gone, so count misses the session...
    let _: i64 = admin.zrem(&index, a.as_str()).await.unwrap();
    assert_eq!(store.count(now).await.unwrap(), 1);
    // ...until its next touch puts it back.
    assert!(store.touch(&a, now + 20_000, 60_000).await.unwrap());
    assert_eq!(store.count(now).await.unwrap(), 2);
    assert_eq!(store.owner_sessions("alice", now).await.unwrap().len(), 2);

    // A phantom: b's record vanishes behind the index's back (as a destroy racing a write
    // could leave it). owner_sessions re-checks records, so it never lists b...
    let _: i64 = admin
        .del(format!("{prefix}{{{}}}", b.as_str()))
        .await
        .unwrap();
    assert_eq!(
        store.owner_sessions("alice", now).await.unwrap(),
        vec![a.clone()]
    );
    // ...count includes it until its expiry passes, then GC drops it and keeps a.
    assert_eq!(store.count(now + 15_000).await.unwrap(), 1);
    assert_eq!(store.gc(now + 15_000).await.unwrap(), 1);
    let score: Option<f64> = admin
        .zscore(testing::index_key(&prefix, b.as_str()), b.as_str())
        .await
        .unwrap();
    assert_eq!(score, None, "GC left the phantom's index entry");
    assert!(store.exist(&a).await.unwrap());
    assert_eq!(store.count(now + 15_000).await.unwrap(), 1);
}

/// On a cluster too, a save that moves the expiry by less than the slack leaves the index
/// score behind, and count, GC and the owner index still see the session as live; an owner
/// change reaches the index (the second script) right away.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_lagging_score_keeps_the_session_live() {
    use session_core::{Inserted, RawStore, Saved, SessionId, Write};

    let cluster = RedisCluster::start(3).unwrap();
    let store = store_on(&cluster).await;
    let now = 1_000_000;
    let write = |expires_at, owner| Write {
        body: b"data",
        expires_at,
        ttl_ms: 60_000,
        owner,
    };
    let id = SessionId::generate(32).unwrap();
    let Inserted::Created(v1) = store
        .insert(&id, write(now + 10_000, Some("alice")))
        .await
        .unwrap()
    else {
        panic!("insert did not create");
    };
    let saved = |outcome| match outcome {
        Saved::Saved(version) => version,
        other => panic!("save answered {other:?}"),
    };
    // 30 s further is within the 60 s slack of a 10-minute idle lifetime: the index keeps
    // now + 10 s.
    let v2 = saved(
        store
            .save(&id, v1, write(now + 40_000, Some("alice")))
            .await
            .unwrap(),
    );
    let later = now + 20_000;
    assert_eq!(store.count(later).await.unwrap(), 1);
    assert_eq!(
        store.owner_sessions("alice", later).await.unwrap(),
        vec![id.clone()]
    );
    assert_eq!(store.gc(later).await.unwrap(), 0);
    assert!(store.exist(&id).await.unwrap());

    saved(
        store
            .save(&id, v2, write(now + 41_000, Some("bob")))
            .await
            .unwrap(),
    );
    assert!(
        store
            .owner_sessions("alice", later)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.owner_sessions("bob", later).await.unwrap(), vec![id]);
    assert_eq!(store.count(now + 41_000).await.unwrap(), 0);
    assert_eq!(store.gc(now + 41_000).await.unwrap(), 1);
    drop(cluster);
}

/// How often `command` ran on all masters together since their statistics were reset.
async fn calls_of(cluster: &RedisCluster, command: &str) -> u64 {
    let mut calls = 0;
    for addr in cluster.addrs() {
        let client = redis::Client::open(format!("redis://{addr}/")).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let stats = testing::commandstats(&mut conn).await.unwrap();
        calls += stats.get(command).map_or(0, |stat| stat.calls);
    }
    calls
}

/// The commands each master ran since its statistics were reset (`INFO commandstats`),
/// leaving out the test's own `CONFIG`, `INFO` and the client's `CLUSTER` / `COMMAND` calls.
async fn commands_per_master(cluster: &RedisCluster) -> Vec<u64> {
    let mut counts = Vec::new();
    for addr in cluster.addrs() {
        let client = redis::Client::open(format!("redis://{addr}/")).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let skip = [
            "config", "info", "cluster", "command", "ping", "hello", "client",
        ];
        counts.push(
            testing::commandstats(&mut conn)
                .await
                .unwrap()
                .into_iter()
                .filter(|(name, _)| !skip.iter().any(|s| name.starts_with(s)))
                .map(|(_, stat)| stat.calls)
                .sum(),
        );
    }
    counts
}

async fn reset_stats(cluster: &RedisCluster) {
    for addr in cluster.addrs() {
        let client = redis::Client::open(format!("redis://{addr}/")).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        redis::cmd("CONFIG")
            .arg("RESETSTAT")
            .query_async::<()>(&mut conn)
            .await
            .unwrap();
    }
}

/// Under a load of new sessions and writes to existing ones (every write moving the expiry
/// far enough to rewrite its index entry: the index's worst case), the commands spread over
/// the three masters: none runs more than 45% of them. The index shards sit in slots on
/// every master, so index writes do not all land on one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn index_writes_spread_over_the_masters() {
    use session_core::{Inserted, RawStore, Saved, SessionId, Write};

    const SESSIONS: usize = 300;
    let cluster = RedisCluster::start(3).unwrap();
    let store = store_on(&cluster).await;
    reset_stats(&cluster).await;

    let owners: Vec<String> = (0..30).map(|n| format!("user{n}")).collect();
    let write = |expires_at, n: usize| Write {
        body: b"some session data",
        expires_at,
        ttl_ms: 600_000,
        owner: n
            .is_multiple_of(2)
            .then(|| owners[n % owners.len()].as_str()),
    };
    let mut now = 1_000_000_000;
    let mut sessions = Vec::new();
    for n in 0..SESSIONS {
        let id = SessionId::generate(32).unwrap();
        let Inserted::Created(version) = store.insert(&id, write(now + 600_000, n)).await.unwrap()
        else {
            panic!("insert did not create");
        };
        sessions.push((id, version));
    }
    for _round in 0..3 {
        now += 61_000;
        for (n, (id, version)) in sessions.iter_mut().enumerate() {
            let stored = store.read(id).await.unwrap().unwrap();
            assert_eq!(stored.version, *version);
            match store
                .save(id, *version, write(now + 600_000, n))
                .await
                .unwrap()
            {
                Saved::Saved(next) => *version = next,
                other => panic!("save answered {other:?}"),
            }
        }
    }
    let counts = commands_per_master(&cluster).await;
    let total: u64 = counts.iter().sum();
    let shares: Vec<f64> = counts.iter().map(|c| *c as f64 / total as f64).collect();
    println!("commands per master: {counts:?}, shares: {shares:.3?}");
    assert!(
        shares.iter().all(|share| *share <= 0.45),
        "a master ran more than 45% of the commands: {counts:?}"
    );
    assert_eq!(
        calls_of(&cluster, "zrem").await,
        0,
        "no owner changed and nothing was destroyed, so no set lost a member"
    );
    assert_eq!(store.count(now).await.unwrap(), SESSIONS as u64);
    assert_eq!(
        store.owner_sessions("user0", now).await.unwrap().len(),
        SESSIONS / owners.len()
    );
    drop(cluster);
}
