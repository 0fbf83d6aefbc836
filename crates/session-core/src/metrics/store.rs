//! [`StoreMeters`]: the series [`crate::Backend`] reports every store operation to.

use std::future::Future;

use metrics::Histogram;

use super::{BACKEND_ERRORS, OPERATION_DURATION, RECORD_SIZE};
use crate::backend::Operation;
use crate::error::{Error, Result};

/// The `kind` label of an error: `backend` (the backend failed: an outage), `unsupported`,
/// `corrupt`, `capacity_exceeded`, `too_large`, `config` or `other`.
pub fn error_kind(error: &Error) -> &'static str {
    match error {
        Error::Backend { .. } => "backend",
        Error::Unsupported { .. } => "unsupported",
        Error::Corrupt(_) => "corrupt",
        Error::CapacityExceeded { .. } => "capacity_exceeded",
        Error::TooLarge { .. } => "too_large",
        Error::Config { .. } => "config",
        _ => "other",
    }
}

/// The store series of one manager, labelled with its provider's name: the latency of every
/// operation (`session_store_operation_duration_seconds`), the size of every record written
/// (`session_record_size_bytes`) and every failure by kind (`session_backend_errors_total`);
/// see [the module docs](super). [`crate::Backend`] reports to it.
pub(crate) struct StoreMeters {
    provider: &'static str,
    /// One handle per [`Operation`], in [`Operation::ALL`] order.
    latency: [Histogram; Operation::ALL.len()],
    record_size: Histogram,
}

impl StoreMeters {
    /// Registers the series of `provider` with the recorder installed now.
    pub(crate) fn new(provider: &'static str) -> Self {
        // Calibrated here, when the manager is built, not on its first request.
        crate::clock::timing_clock();
        StoreMeters {
            latency: Operation::ALL.map(|op| {
                metrics::histogram!(OPERATION_DURATION, "provider" => provider, "operation" => op.as_str())
            }),
            record_size: metrics::histogram!(RECORD_SIZE, "provider" => provider),
            provider,
        }
    }

    /// Runs `call`, recording its time and, when it fails, its error.
    pub(crate) async fn time<T>(
        &self,
        op: Operation,
        call: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let clock = crate::clock::timing_clock();
        let start = clock.raw();
        let result = call.await;
        let nanos = clock.delta_as_nanos(start, clock.raw());
        // Seconds, the histogram's unit. Exact below 2^53 ns (104 days).
        #[allow(clippy::cast_precision_loss)]
        self.latency[op as usize].record(nanos as f64 / 1e9);
        if let Err(e) = &result {
            self.failed(op, e);
        }
        result
    }

    /// Counts a failed operation. Registered on the spot: failures are rare, and the
    /// kinds × operations that never happen then add no series.
    pub(crate) fn failed(&self, op: Operation, error: &Error) {
        metrics::counter!(
            BACKEND_ERRORS,
            "provider" => self.provider,
            "operation" => op.as_str(),
            "kind" => error_kind(error),
        )
        .increment(1);
    }

    /// Records a write of `len` bytes that took place.
    pub(crate) fn written(&self, len: usize) {
        // Exact: a record is far below 2^53 bytes.
        #[allow(clippy::cast_precision_loss)]
        self.record_size.record(len as f64);
    }
}
