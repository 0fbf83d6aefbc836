//! Metrics through the [`metrics`](https://docs.rs/metrics) facade: install any recorder
//! (Prometheus, StatsD, OpenTelemetry, ...) and every [`Manager`](crate::Manager) built after
//! it reports what happens to its sessions and how its store performs.
//!
//! Every series is labelled with the provider's registry name (`provider="redis"`), and some
//! with the store operation or the error kind. None is labelled with a session ID, an owner or
//! anything else a user controls: the number of series stays fixed however many sessions
//! there are, and a scrape reveals nobody's session.
//!
//! # What is recorded
//!
//! | Name | Type | Labels | What it counts |
//! |---|---|---|---|
//! | `session_created_total` | counter | `provider` | new sessions stored (their cookie issued) |
//! | `session_loaded_total` | counter | `provider` | requests whose cookie led to a live session |
//! | `session_saved_total` | counter | `provider` | changed sessions written back (conditional save) |
//! | `session_conflicts_total` | counter | `provider` | conditional writes (save or regenerate) that lost to a concurrent request; each is followed by a replay of the request's changes on the latest record |
//! | `session_regenerated_total` | counter | `provider` | sessions moved to a new ID (regenerate or rotation) |
//! | `session_destroyed_total` | counter | `provider` | sessions destroyed (logout, emptied, "log out everywhere", admin) |
//! | `session_expired_total` | counter | `provider` | presented sessions found expired on load (and deleted) |
//! | `session_rejected_total` | counter | `provider`, `reason` | presented cookies not adopted: `unknown_id` (no such session, or moved away), `corrupt` (a record that does not decode, deleted), `bad_signature` (a signed cookie that does not verify) |
//! | `session_gc_removed_total` | counter | `provider` | expired records removed by GC |
//! | `session_backend_errors_total` | counter | `provider`, `operation`, `kind` | store operations that failed, by [`error_kind`] (`backend` for an outage) |
//! | `session_store_operation_duration_seconds` | histogram | `provider`, `operation` | time of each store operation, failed ones included |
//! | `session_record_size_bytes` | histogram | `provider` | size of each record written (insert, save, regenerate) |
//! | `session_live` | gauge | `provider` | live sessions at the last count: after every GC pass and every [`Manager::count`](crate::Manager::count), for providers whose capabilities include counting |
//!
//! `operation` is one of `read`, `exist`, `insert`, `save`, `touch`, `destroy`, `regenerate`,
//! `count`, `gc` and `owner_sessions` ([`Operation`]).
//!
//! # When it is recorded, and what it costs
//!
//! - **Install the recorder before building the manager.** A manager registers its series
//!   once, when it is built ([`crate::Manager::with_store`]), so the request path never
//!   looks a metric up by name. A manager built before any recorder keeps recording nothing.
//! - Without a recorder each of those handles is a no-op: one branch per event, no clock
//!   read beyond the store operation timer, no allocation.
//! - Lifecycle counters come from the same place as the [`crate::Event`]s (an event
//!   hook sees the same story, with ID fingerprints), plus a hook where a session is loaded
//!   or saved, which have no event.
//! - Store latency, record sizes and errors are measured by [`crate::Backend`], through
//!   which the manager makes every store call: the latency of a store wrapped for
//!   encryption includes the encryption. An in-process store's synchronous read
//!   ([`crate::RawStore::read_in_memory`]) is not timed: it answers in well under a
//!   microsecond, less than the two clock reads would cost, so the memory provider's `read`
//!   latency series stays empty (its failures are still counted).
//! - The `session_live` gauge costs one [`crate::RawStore::count`] per GC pass: a scan of the
//!   shards for memory, of every session file's expiry for file, a range count on the expiry
//!   index for Redis (`ZCOUNT`), ledis and SQL (`COUNT(*) ... WHERE expires_at > ?`). With the
//!   hourly default `gc_interval` that is negligible; with a GC every few seconds on a large
//!   file store it is not.
//!
//! Histograms have no buckets of their own in the facade; [`LATENCY_BUCKETS`] and
//! [`SIZE_BUCKETS`] suit these two (an exporter that renders summaries without buckets, as
//! `metrics-exporter-prometheus` does, needs them to produce Prometheus histograms).
//!
//! This module is there with the `metrics` cargo feature (on by default); without it core
//! does not depend on `metrics` and records nothing.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use session_core::{Manager, Options, SystemClock};
//! use session_memory::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> session_core::Result<()> {
//! // First the recorder of your exporter (here: none, so everything is a no-op), e.g.
//! // metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()
//! // Then the manager: its series are registered with that recorder.
//! let store = Arc::new(MemoryStore::default());
//! let manager = Manager::with_store(Options::default(), store, Arc::new(SystemClock))?;
//! let session = manager.load([]);
//! session.set("user", "gopher").await?;
//! session.commit().await?; // session_created_total{provider="memory"} 1
//! # Ok(())
//! # }
//! ```

mod store;

use metrics::{Counter, Gauge};

use crate::events::Event;

pub use crate::backend::Operation;
pub(crate) use store::StoreMeters;
pub use store::error_kind;

/// `session_created_total`.
pub const CREATED: &str = "session_created_total";
/// `session_loaded_total`.
pub const LOADED: &str = "session_loaded_total";
/// `session_saved_total`.
pub const SAVED: &str = "session_saved_total";
/// `session_conflicts_total`.
pub const CONFLICTS: &str = "session_conflicts_total";
/// `session_regenerated_total`.
pub const REGENERATED: &str = "session_regenerated_total";
/// `session_destroyed_total`.
pub const DESTROYED: &str = "session_destroyed_total";
/// `session_expired_total`.
pub const EXPIRED: &str = "session_expired_total";
/// `session_rejected_total`.
pub const REJECTED: &str = "session_rejected_total";
/// `session_gc_removed_total`.
pub const GC_REMOVED: &str = "session_gc_removed_total";
/// `session_backend_errors_total`.
pub const BACKEND_ERRORS: &str = "session_backend_errors_total";
/// `session_store_operation_duration_seconds`.
pub const OPERATION_DURATION: &str = "session_store_operation_duration_seconds";
/// `session_record_size_bytes`.
pub const RECORD_SIZE: &str = "session_record_size_bytes";
/// `session_live`.
pub const LIVE: &str = "session_live";

/// Bucket bounds (seconds) for [`OPERATION_DURATION`]: from an in-process store's tens of
/// microseconds to a struggling network backend's second.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0,
];

/// Bucket bounds (bytes) for [`RECORD_SIZE`]: powers of four up to the default 1 MiB limit.
pub const SIZE_BUCKETS: &[f64] = &[
    64.0,
    256.0,
    1024.0,
    4096.0,
    16384.0,
    65536.0,
    262_144.0,
    1_048_576.0,
];

/// Whether this build records metrics (the `metrics` feature): the GC task counts live
/// sessions for [`LIVE`] only then.
pub(crate) const RECORDS: bool = true;

/// The lifecycle series of one manager, registered once with the recorder installed when the
/// manager is built.
pub(crate) struct Lifecycle {
    created: Counter,
    loaded: Counter,
    saved: Counter,
    conflicts: Counter,
    regenerated: Counter,
    destroyed: Counter,
    expired: Counter,
    unknown_id: Counter,
    corrupt: Counter,
    bad_signature: Counter,
    gc_removed: Counter,
    live: Gauge,
}

impl Lifecycle {
    /// Registers the series of `provider`.
    pub(crate) fn new(provider: &'static str) -> Self {
        describe();
        let counter = |name: &'static str| metrics::counter!(name, "provider" => provider);
        let rejected = |reason: &'static str| metrics::counter!(REJECTED, "provider" => provider, "reason" => reason);
        Lifecycle {
            created: counter(CREATED),
            loaded: counter(LOADED),
            saved: counter(SAVED),
            conflicts: counter(CONFLICTS),
            regenerated: counter(REGENERATED),
            destroyed: counter(DESTROYED),
            expired: counter(EXPIRED),
            unknown_id: rejected("unknown_id"),
            corrupt: rejected("corrupt"),
            bad_signature: rejected("bad_signature"),
            gc_removed: counter(GC_REMOVED),
            live: metrics::gauge!(LIVE, "provider" => provider),
        }
    }

    /// Counts what `event` reports.
    pub(crate) fn event(&self, event: &Event) {
        let counter = match event {
            Event::Created { .. } => &self.created,
            // A rotation is a move to a new ID too; its own event tells them apart.
            Event::Regenerated { .. } | Event::Rotated { .. } => &self.regenerated,
            Event::Destroyed { .. } => &self.destroyed,
            Event::Expired { .. } => &self.expired,
            Event::UnknownId { .. } => &self.unknown_id,
            Event::Corrupt { .. } => &self.corrupt,
            Event::ConflictRetried { .. } => &self.conflicts,
            Event::BadSignature => &self.bad_signature,
        };
        counter.increment(1);
    }

    /// A request found its live session.
    pub(crate) fn loaded(&self) {
        self.loaded.increment(1);
    }

    /// A changed session was written back.
    pub(crate) fn saved(&self) {
        self.saved.increment(1);
    }

    /// A GC pass removed `n` records.
    pub(crate) fn gc_removed(&self, n: u64) {
        self.gc_removed.increment(n);
    }

    /// The store counted `n` live sessions.
    pub(crate) fn live(&self, n: u64) {
        // Exact up to 2^53 sessions.
        #[allow(clippy::cast_precision_loss)]
        self.live.set(n as f64);
    }
}

/// Tells the recorder what each series means and its unit (Prometheus `# HELP` lines).
fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(CREATED, Unit::Count, "New sessions stored.");
    describe_counter!(
        LOADED,
        Unit::Count,
        "Requests whose cookie led to a live session."
    );
    describe_counter!(SAVED, Unit::Count, "Changed sessions written back.");
    describe_counter!(
        CONFLICTS,
        Unit::Count,
        "Conditional writes that lost to a concurrent request and were replayed."
    );
    describe_counter!(REGENERATED, Unit::Count, "Sessions moved to a new ID.");
    describe_counter!(DESTROYED, Unit::Count, "Sessions destroyed.");
    describe_counter!(
        EXPIRED,
        Unit::Count,
        "Presented sessions found expired on load."
    );
    describe_counter!(
        REJECTED,
        Unit::Count,
        "Presented session cookies not adopted, by reason."
    );
    describe_counter!(GC_REMOVED, Unit::Count, "Expired records removed by GC.");
    describe_counter!(
        BACKEND_ERRORS,
        Unit::Count,
        "Session store operations that failed, by operation and error kind."
    );
    describe_histogram!(
        OPERATION_DURATION,
        Unit::Seconds,
        "Time of each session store operation."
    );
    describe_histogram!(
        RECORD_SIZE,
        Unit::Bytes,
        "Size of each session record written."
    );
    describe_gauge!(LIVE, Unit::Count, "Live sessions at the last count.");
}
