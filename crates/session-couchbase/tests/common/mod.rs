//! Where the tests run: the in-repo test server, or a real cluster named by `COUCHBASE_URL`.

#![allow(dead_code)]

use std::sync::Arc;

use couchbase_testserver::{Clock, TestConfig, TestServer};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use session_core::conformance::Forward;
use session_core::{Provider, ProviderContext, RawStore, Result, SessionId};
use session_couchbase::CouchbaseProvider;

pub const USER: &str = "app";
pub const PASSWORD: &str = "s3cret: p@ss";
pub const BUCKET: &str = "sessions";

fn enc(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

/// A config string for the test server with these extra query options.
pub fn local_config(server: &TestServer, query: &str) -> String {
    format!(
        "couchbase://{}:{}@{}/{}?{query}",
        enc(USER),
        enc(PASSWORD),
        server.addr(),
        server.bucket()
    )
}

/// Starts a test server whose expiry follows `clock`.
pub async fn server(clock: Clock, collections: Vec<(String, String)>) -> TestServer {
    TestServer::start(TestConfig {
        bucket: BUCKET.into(),
        username: USER.into(),
        password: PASSWORD.into(),
        collections,
        clock,
        ..TestConfig::default()
    })
    .await
    .expect("the couchbase test server starts on 127.0.0.1")
}

/// The real cluster from `COUCHBASE_URL` (and its credentials), as a config string without a
/// query; `None` when `COUCHBASE_URL` is unset. Incomplete settings fail the test.
pub fn real_cluster() -> Option<String> {
    let url = std::env::var("COUCHBASE_URL").ok()?;
    let var = |name: &str| {
        std::env::var(name)
            .unwrap_or_else(|_| panic!("COUCHBASE_URL is set, so {name} must be too"))
    };
    let (scheme, hosts) = url.split_once("://").unwrap_or_else(|| {
        panic!("COUCHBASE_URL must look like couchbase://host:11210, got {url:?}")
    });
    Some(format!(
        "{scheme}://{}:{}@{}/{}",
        enc(&var("COUCHBASE_USERNAME")),
        enc(&var("COUCHBASE_PASSWORD")),
        hosts.trim_end_matches('/'),
        enc(&var("COUCHBASE_BUCKET"))
    ))
}

/// A unique key prefix, so runs against one bucket never see each other's sessions.
pub fn fresh_prefix() -> String {
    let id = SessionId::generate(32).expect("an id");
    format!("t{}:", &id.as_str()[..16])
}

/// Opens a store for one conformance case: a fresh test server whose clock is the case's
/// clock (so Couchbase-side expiry agrees with core), or a fresh prefix on the real cluster.
pub async fn open_store(ctx: ProviderContext) -> Result<Arc<dyn RawStore>> {
    if let Some(base) = real_cluster() {
        let config = format!("{base}?prefix={}", fresh_prefix());
        return CouchbaseProvider.open(&config, &ctx).await;
    }
    let case_clock = ctx.clock.clone();
    let server = server(Clock::from_fn(move || case_clock.now()), Vec::new()).await;
    let store = CouchbaseProvider
        .open(&local_config(&server, ""), &ctx)
        .await?;
    // The store keeps its test server alive as long as it lives.
    Ok(Arc::new(Forward::new(store, server)))
}
