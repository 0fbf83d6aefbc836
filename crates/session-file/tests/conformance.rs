//! The whole provider conformance suite against the file provider.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use session_core::conformance;
use session_core::{Provider, ProviderContext};
use session_file::FileProvider;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_passes_the_conformance_suite() {
    let parent = tempfile::tempdir().expect("a temporary directory");
    let base = parent.path().to_owned();
    let next = Arc::new(AtomicUsize::new(0));
    // Every case gets its own, not yet existing root below one temporary directory.
    let report = conformance::run(&move |ctx: ProviderContext| {
        let root = base.join(format!("case{}", next.fetch_add(1, Ordering::Relaxed)));
        async move {
            FileProvider
                .open(&format!("root={}", root.display()), &ctx)
                .await
        }
    })
    .await;
    println!("{}", report.table());
    report.assert_passed();
}
