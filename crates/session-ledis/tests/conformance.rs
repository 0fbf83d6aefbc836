//! The whole provider conformance suite against the sled provider, a fresh directory per
//! store.

use std::sync::Arc;

use session_core::conformance::{self, Forward};
use session_core::{Provider, ProviderContext, RawStore, Result};
use session_ledis::LedisProvider;

/// A store in namespace `db` of a fresh sled database at `subdir` of a temporary directory
/// (`""`: the directory itself), removed when the store's last reference goes.
async fn open_in_temp_dir(
    ctx: ProviderContext,
    subdir: &'static str,
    db: u32,
) -> Result<Arc<dyn RawStore>> {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = format!("data_dir={},db={db}", dir.path().join(subdir).display());
    let store = LedisProvider.open(&config, &ctx).await?;
    Ok(Arc::new(Forward::new(store, dir)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ledis_passes_the_conformance_suite() {
    let report = conformance::run(&|ctx| open_in_temp_dir(ctx, "db", 0)).await;
    println!("{}", report.table());
    report.assert_passed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_namespace_passes_too() {
    let report = conformance::run(&|ctx| open_in_temp_dir(ctx, "", 7)).await;
    report.assert_passed();
}
