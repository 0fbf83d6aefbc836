//! `MeteredStore` changes no answer of the store it wraps, and a manager's GC and count
//! reach its series.

#![cfg(all(feature = "conformance", feature = "metrics"))]

use std::sync::Arc;
use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use session_core::conformance;
use session_core::metrics::{GC_REMOVED, LIVE, MeteredStore};
use session_core::{Manager, MockClock, Options, Provider as _, ProviderContext, RawStore};
use session_memory::{MemoryProvider, MemoryStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metered_memory_passes_the_conformance_suite() {
    let report = conformance::run(&|ctx: ProviderContext| async move {
        let store = MemoryProvider.open("", &ctx).await?;
        Ok(Arc::new(MeteredStore::new(store)) as Arc<dyn RawStore>)
    })
    .await;
    report.assert_passed();
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
