//! The whole conformance suite against a Redis Cluster of three masters that this test
//! starts on free loopback ports and kills at the end.

// Test helpers outside #[test] functions panic on failure too: that is the point.
#![allow(clippy::unwrap_used)]

mod support;

use session_core::conformance;
use session_core::{Provider, ProviderContext};
use session_redis::RedisProvider;
use support::cluster::RedisCluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_cluster_passes_the_conformance_suite() {
    let cluster = RedisCluster::start(3);
    let addrs = cluster.addrs().join("|");
    let report = conformance::run(&|ctx: ProviderContext| {
        let config = format!(
            "cluster=true,addrs={addrs},prefix={}",
            support::unique_prefix()
        );
        async move { RedisProvider.open(&config, &ctx).await }
    })
    .await;
    println!("{}", report.table());
    report.assert_passed();
    drop(cluster);
}
