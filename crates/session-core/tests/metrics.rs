//! A manager's store calls, GC and count reach their series.

#![cfg(all(feature = "conformance", feature = "metrics"))]

use std::sync::Arc;
use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use session_core::backend::Operation;
use session_core::conformance::{Call, Wrapper};
use session_core::metrics::{BACKEND_ERRORS, GC_REMOVED, LIVE, OPERATION_DURATION, RECORD_SIZE};
use session_core::{Error, Manager, MockClock, Options, RawStore};
use session_memory::MemoryStore;

/// Fails every `save` with a backend error, forwards everything else.
struct FailingSaves(Arc<dyn RawStore>);

impl Wrapper for FailingSaves {
    fn inner(&self) -> &dyn RawStore {
        &*self.0
    }

    fn on_call(&self, call: Call) -> session_core::Result<()> {
        match call {
            Call::Op(Operation::Save) => Err(Error::backend("memory", "save refused by the test")),
            _ => Ok(()),
        }
    }
}

#[tokio::test]
async fn store_calls_are_timed_measured_and_their_failures_counted() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    // For the whole test: failures are counted when they happen (the current-thread
    // runtime runs every task on this thread).
    let _recorder = metrics::set_default_local_recorder(&recorder);
    let store = FailingSaves(Arc::new(MemoryStore::default()));
    let manager = Manager::with_store(
        Options::default(),
        Arc::new(store),
        Arc::new(MockClock::default()),
    )
    .expect("valid options");
    // A new session: one insert of a record.
    let session = manager.load([]);
    session.set("k", "v").await.expect("set");
    let set_cookie = session.commit().await.expect("commit").set_cookie;
    let cookie = set_cookie.expect("a cookie");
    let cookie = cookie.split(';').next().expect("name=value");
    // A change to it: one save, which fails.
    let session = manager.load([cookie]);
    session.set("k", "w").await.expect("set");
    assert!(session.commit().await.is_err(), "the save fails");
    // Calls made through `Manager::store` are measured too.
    manager.store().count(0).await.expect("count");

    let snapshot = snapshotter.snapshot().into_vec();
    let find = |name: &str, labels: &[(&str, &str)]| {
        snapshot
            .iter()
            .find(|(key, ..)| {
                key.key().name() == name
                    && labels
                        .iter()
                        .all(|(k, v)| key.key().labels().any(|l| l.key() == *k && l.value() == *v))
            })
            .map(|(.., value)| value)
    };
    let samples = |name: &str, labels: &[(&str, &str)]| match find(name, labels) {
        Some(DebugValue::Histogram(values)) => values.len(),
        other => panic!("{name} {labels:?}: {other:?}"),
    };
    assert_eq!(samples(OPERATION_DURATION, &[("operation", "insert")]), 1);
    assert_eq!(samples(OPERATION_DURATION, &[("operation", "save")]), 1);
    assert_eq!(samples(OPERATION_DURATION, &[("operation", "count")]), 1);
    // Only the record that was written is measured.
    assert_eq!(samples(RECORD_SIZE, &[("provider", "memory")]), 1);
    assert_eq!(
        find(
            BACKEND_ERRORS,
            &[
                ("operation", "save"),
                ("kind", "backend"),
                ("provider", "memory")
            ]
        ),
        Some(&DebugValue::Counter(1))
    );
}

#[tokio::test]
async fn gc_and_count_set_their_series() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let clock = MockClock::default();
    let options = Options::default();
    let idle = options.idle_lifetime();
    // The series are registered with the recorder in place when the manager is built.
    let manager = metrics::with_local_recorder(&recorder, || {
        Manager::with_store(
            options,
            Arc::new(MemoryStore::default()),
            Arc::new(clock.clone()),
        )
    })
    .expect("valid options");
    for _ in 0..3 {
        let session = manager.load([]);
        session.set("k", "v").await.expect("set");
        session.commit().await.expect("commit");
    }
    clock.advance(idle + Duration::from_secs(1));
    assert_eq!(manager.gc().await.expect("gc"), 3);
    let session = manager.load([]);
    session.set("k", "v").await.expect("set");
    session.commit().await.expect("commit");
    assert_eq!(manager.count().await.expect("count"), 1);

    let snapshot = snapshotter.snapshot().into_vec();
    let value = |name: &str| {
        snapshot
            .iter()
            .find(|(key, ..)| key.key().name() == name)
            .map(|(.., value)| value)
    };
    assert_eq!(value(GC_REMOVED), Some(&DebugValue::Counter(3)));
    assert_eq!(value(LIVE), Some(&DebugValue::Gauge(1.0.into())));
}
