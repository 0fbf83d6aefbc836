//! Helpers shared by the Redis tests.

#![allow(dead_code)]

pub mod cluster;
pub mod proxy;
pub mod server;

/// The machine's Redis.
pub const LOCAL_REDIS: &str = "127.0.0.1:6379";

/// A prefix no other test run uses, so stores never see each other's sessions.
pub fn unique_prefix() -> String {
    format!(
        "session-redis-test:{:016x}:",
        getrandom::u64().expect("OS random numbers")
    )
}

/// Fails the test with a clear message when Redis is not reachable at `addr`.
pub async fn require_redis(addr: &str) {
    let reachable = async {
        let client = redis::Client::open(format!("redis://{addr}/"))?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    };
    match tokio::time::timeout(std::time::Duration::from_secs(10), reachable).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => panic!("Redis at {addr} is not reachable ({e}); start redis-server there"),
        Err(_) => panic!("Redis at {addr} did not answer PING within 10 s"),
    }
}

/// What a manager with a 10-minute idle lifetime hands its store: the idle lifetime that
/// gives the largest index slack (60 s), for tests that open a `RedisStore` directly.
pub fn context() -> session_core::ProviderContext {
    session_core::ProviderContext {
        clock: std::sync::Arc::new(session_core::SystemClock),
        max_record_size: 1 << 20,
        max_lifetime_ms: 600_000,
    }
}
