//! `GET /metrics` of the demo app after a scripted flow (`http_scenarios::metrics`). A test
//! binary of its own: the recorder it installs is global to the process.

mod demo;

use demo::serve;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_after_a_scripted_flow() {
    http_scenarios::metrics::after_a_scripted_flow(serve).await;
}
