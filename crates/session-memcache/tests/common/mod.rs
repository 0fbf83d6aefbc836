//! Shared test helpers: the memcached address and per-test key prefixes.

#![allow(dead_code)]

use std::sync::Arc;

use session_core::{ProviderContext, RawStore, SessionId, SystemClock};
use session_memcache::MemcacheStore;

/// `MEMCACHED_ADDR`, default `127.0.0.1:11211`.
pub fn addr() -> String {
    std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into())
}

/// A prefix no other test or run uses.
pub fn unique_prefix(tag: &str) -> String {
    let random = SessionId::generate(32).expect("rng");
    format!("t{tag}{}:", &random.as_str()[..16])
}

/// A store on the test server under a fresh prefix; fails loudly when memcached is down.
pub async fn store(tag: &str) -> MemcacheStore {
    let config = format!("{};prefix={}", addr(), unique_prefix(tag));
    let ctx = ProviderContext {
        clock: Arc::new(SystemClock),
        max_record_size: 1 << 20,
        max_lifetime_ms: 3_600_000,
    };
    let config = config.parse().expect("config");
    let store = MemcacheStore::open(config, &ctx).await.expect("config");
    let probe = SessionId::generate(32).expect("rng");
    if let Err(e) = store.exist(&probe).await {
        panic!(
            "memcached is not reachable at {} ({e}). Start it with \
             `memcached -u nobody -l 127.0.0.1 -p 11211 -d` (install: apt-get install -y \
             memcached) or point MEMCACHED_ADDR at a running server.",
            addr()
        );
    }
    store
}
