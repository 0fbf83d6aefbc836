//! The whole provider conformance suite against the memory provider.

use session_core::conformance;
use session_core::{Provider, ProviderContext};
use session_memory::MemoryProvider;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_passes_the_conformance_suite() {
    let report =
        conformance::run(
            &|ctx: ProviderContext| async move { MemoryProvider.open("", &ctx).await },
        )
        .await;
    println!("{}", report.table());
    report.assert_passed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bounded_memory_passes_the_conformance_suite() {
    let report = conformance::run(&|ctx: ProviderContext| async move {
        MemoryProvider.open("capacity=100000", &ctx).await
    })
    .await;
    report.assert_passed();
}
