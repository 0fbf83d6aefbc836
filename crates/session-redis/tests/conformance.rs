//! The whole provider conformance suite against the machine's Redis (127.0.0.1:6379).

// Test helpers outside #[test] functions panic on failure too: that is the point.
#![allow(clippy::unwrap_used)]

mod support;

use session_core::conformance;
use session_core::{Provider, ProviderContext};
use session_redis::RedisProvider;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_passes_the_conformance_suite() {
    support::require_redis(support::LOCAL_REDIS).await;
    let report = conformance::run(&|ctx: ProviderContext| async move {
        // Every case gets its own prefix: the suite counts sessions.
        let config = format!(
            "addr={},prefix={}",
            support::LOCAL_REDIS,
            support::unique_prefix()
        );
        RedisProvider.open(&config, &ctx).await
    })
    .await;
    println!("{}", report.table());
    report.assert_passed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_url_form_passes_the_conformance_suite() {
    support::require_redis(support::LOCAL_REDIS).await;
    let report = conformance::run(&|ctx: ProviderContext| async move {
        let config = format!(
            "redis://{}/3?prefix={}",
            support::LOCAL_REDIS,
            support::unique_prefix()
        );
        RedisProvider.open(&config, &ctx).await
    })
    .await;
    report.assert_passed();
}
