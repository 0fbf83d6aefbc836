//! The shared HTTP scenario suite against the demo app, served over real TCP, once per
//! provider and cookie configuration.

#[allow(dead_code)]
#[path = "../examples/demo/routes.rs"]
mod routes;

use std::sync::Arc;
use std::time::Duration;

use http_scenarios::Target;
use session_core::clock::duration_millis;
use session_core::conformance::Instrumented;
use session_core::{Manager, Options, Provider, ProviderContext, Registry, SystemClock};
use session_file::FileProvider;
use session_memory::MemoryProvider;

/// Serves the demo app on an ephemeral port, on its own actix system thread; returns its
/// base URL.
async fn serve(manager: Manager) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    let addr = listener.local_addr().expect("local address");
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            routes::server(manager, listener)
                .expect("demo server starts")
                .await
                .expect("demo server")
        })
    });
    format!("http://{addr}")
}

fn context(options: &Options) -> ProviderContext {
    ProviderContext {
        clock: Arc::new(SystemClock),
        max_record_size: options.max_record_size,
        max_lifetime_ms: duration_millis(options.idle_lifetime()),
    }
}

/// Serves a manager over `provider`'s store wrapped in [`Instrumented`], and runs the suite
/// with the outage switch wired to it.
async fn run_with_outage(provider: impl Provider, config: &str, options: Options) {
    let store = provider
        .open(config, &context(&options))
        .await
        .expect("open the provider store");
    let store = Arc::new(Instrumented::new(store));
    let manager = Manager::with_store(options.clone(), store.clone(), Arc::new(SystemClock))
        .expect("valid options");
    let target = Target::for_options(serve(manager).await, &options)
        .with_outage(move |down| store.set_down(down));
    let report = http_scenarios::run(&target).await;
    println!("{report}");
    report.assert_passed();
    // Every scenario ran: none was skipped for lack of a switch or support.
    assert!(
        report
            .scenarios
            .iter()
            .all(|s| s.outcome == http_scenarios::Outcome::Passed),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_provider_with_secure_cookies() {
    let options = Options {
        secure: true,
        ..Options::default()
    };
    run_with_outage(MemoryProvider, "", options).await;
}

/// Signed cookie values (`<id>.<mac>`) and hashed storage keys change what travels in the
/// cookie and what the store sees; the HTTP behaviour must not change.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_provider_with_signed_cookies_and_hashed_ids() {
    let mut options = Options {
        hash_ids: true,
        ..Options::default()
    };
    options
        .set(
            "SIGNING_KEYS",
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        )
        .expect("a 32-byte hex key");
    run_with_outage(MemoryProvider, "", options).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_provider_with_domain_and_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("sessions");
    let options = Options {
        provider: "file".into(),
        cookie_name: "sid".into(),
        cookie_path: "/app".into(),
        domain: Some("sessions.example.test".into()),
        secure: false,
        ..Options::default()
    };
    let config = root.to_str().expect("utf-8 temp path").to_owned();
    run_with_outage(FileProvider, &config, options).await;
}

/// The demo's own wiring: providers by name from a registry, GC running; no outage switch,
/// so the outage scenario reports "not run" while everything else passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn registry_built_manager_without_outage_switch() {
    let registry = Registry::new()
        .with(MemoryProvider)
        .and_then(|r| r.with(FileProvider))
        .expect("register providers");
    let options = Options::default();
    let manager = Manager::new(options.clone(), &registry)
        .await
        .expect("open the memory provider");
    let gc = manager.start_gc_every(Duration::from_millis(50));
    let target = Target::for_options(serve(manager).await, &options);
    let report = http_scenarios::run(&target).await;
    println!("{report}");
    report.assert_passed();
    let outage = report
        .scenarios
        .iter()
        .find(|s| s.group == "outage")
        .expect("the outage scenario is listed");
    assert!(
        matches!(outage.outcome, http_scenarios::Outcome::NotRun(_)),
        "{report}"
    );
    assert!(gc.is_running());
    gc.stop().await;
}
