//! The demos' metrics: a Prometheus recorder (`metrics-exporter-prometheus`, without its own
//! HTTP listener) installed once per process, and its text for the `GET /metrics` route.
//!
//! Core registers a manager's series when the manager is built, so [`install_prometheus`]
//! runs before the manager is opened ([`crate::run`] does so).

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use session_core::metrics::{LATENCY_BUCKETS, OPERATION_DURATION, RECORD_SIZE, SIZE_BUCKETS};

/// How often [`upkeep`] drains the histograms when nobody scrapes.
const UPKEEP_PERIOD: Duration = Duration::from_secs(5);

/// The recorder's handle, or why it could not be installed (which no later call can change).
static INSTALLED: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// Installs the Prometheus recorder as the process's global `metrics` recorder, with
/// Prometheus histograms (not summaries) for core's two histograms; a later call returns
/// the recorder already installed.
///
/// # Errors
///
/// When another recorder was installed in this process first.
pub fn install_prometheus() -> anyhow::Result<&'static PrometheusHandle> {
    INSTALLED
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(OPERATION_DURATION.into()), LATENCY_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full(RECORD_SIZE.into()), SIZE_BUCKETS)
                })
                .map_err(|e| format!("configuring the Prometheus recorder: {e}"))?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder)
                .map_err(|e| format!("installing the Prometheus recorder: {e}"))?;
            Ok(handle)
        })
        .as_ref()
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// The installed recorder's metrics in the Prometheus text format, or `None` when
/// [`install_prometheus`] has not installed one in this process.
pub fn prometheus_text() -> Option<String> {
    INSTALLED
        .get()
        .and_then(|installed| installed.as_ref().ok())
        .map(PrometheusHandle::render)
}

/// Drains the recorder's histograms every few seconds, as the exporter asks of a recorder
/// without its own listener, so they stay small when nobody scrapes; runs until dropped.
pub(crate) async fn upkeep(handle: &PrometheusHandle) {
    let mut ticker = tokio::time::interval(UPKEEP_PERIOD);
    loop {
        ticker.tick().await;
        handle.run_upkeep();
    }
}
