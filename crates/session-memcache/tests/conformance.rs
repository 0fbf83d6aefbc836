//! The whole provider conformance suite against a real memcached.

mod common;

use std::sync::Arc;

use session_core::conformance;
use session_core::{ProviderContext, RawStore, Result};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memcache_passes_the_conformance_suite() {
    // Fails with instructions when memcached is down.
    common::store("probe").await;
    let report = conformance::run(&|_ctx: ProviderContext| async move {
        let store: Arc<dyn RawStore> = Arc::new(common::store("conf").await);
        Result::Ok(store)
    })
    .await;
    println!("{}", report.table());
    report.assert_passed();
}
