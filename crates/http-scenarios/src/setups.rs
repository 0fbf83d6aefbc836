//! The configurations every adapter runs the suite under, so that an adapter's test file is
//! its `serve` function and one line per set-up:
//!
//! ```no_run
//! # async fn serve(_: session_core::Manager) -> String { String::new() }
//! #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
//! async fn memory_provider_with_secure_cookies() {
//!     http_scenarios::setups::memory_with_secure_cookies(serve).await;
//! }
//! ```
//!
//! `serve` serves the adapter's demo app over the given manager on an ephemeral port and
//! returns its base URL (`http://127.0.0.1:PORT`).
//!
//! Each set-up runs the whole suite and panics with the result table when a scenario fails,
//! or when a scenario that the set-up can run was not run: these functions are test bodies.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use session_core::clock::duration_millis;
use session_core::conformance::Instrumented;
use session_core::{Manager, Options, OwnerLimitPolicy, Provider, ProviderContext, SystemClock};
use session_file::FileProvider;
use session_memory::{MemoryProvider, MemoryStore};

use crate::{Outcome, Target};

/// A 32-byte hex key for the signed-cookie set-up.
const SIGNING_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// A manager with `options` over a memory store wrapped in [`Instrumented`], and the wrapper,
/// to count writes or switch the backend off. For adapters' in-process tests too.
///
/// # Panics
///
/// When `options` are invalid.
pub fn instrumented_memory(options: Options) -> (Manager, Arc<Instrumented>) {
    let store = Arc::new(Instrumented::new(Arc::new(MemoryStore::default())));
    let manager = Manager::with_store(options, store.clone(), Arc::new(SystemClock))
        .unwrap_or_else(|e| panic!("invalid options: {e}"));
    (manager, store)
}

/// The memory provider with `Secure` cookies (the defaults), outage switch and write counter
/// wired to the store.
pub async fn memory_with_secure_cookies<F, Fut>(serve: F)
where
    F: Fn(Manager) -> Fut,
    Fut: Future<Output = String>,
{
    let options = Options {
        secure: true,
        ..Options::default()
    };
    run_instrumented(MemoryProvider, "", options, serve).await;
}

/// Signed cookie values (`<id>.<mac>`) and hashed storage keys change what travels in the
/// cookie and what the store sees; the HTTP behaviour must not change.
pub async fn signed_cookies_and_hashed_ids<F, Fut>(serve: F)
where
    F: Fn(Manager) -> Fut,
    Fut: Future<Output = String>,
{
    let mut options = Options {
        hash_ids: true,
        ..Options::default()
    };
    options
        .set("SIGNING_KEYS", SIGNING_KEY)
        .unwrap_or_else(|e| panic!("the signing key is refused: {e}"));
    run_instrumented(MemoryProvider, "", options, serve).await;
}

/// The file provider in a temporary directory, with a custom cookie name, path and domain,
/// without `Secure`, and a record size limit of 64 KiB instead of the default 1 MiB.
pub async fn file_with_cookie_name_path_and_domain<F, Fut>(serve: F)
where
    F: Fn(Manager) -> Fut,
    Fut: Future<Output = String>,
{
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("cannot create a temp dir: {e}"));
    let root = dir.path().join("sessions");
    let options = Options {
        provider: "file".into(),
        cookie_name: "sid".into(),
        cookie_path: "/app".into(),
        domain: Some("sessions.example.test".into()),
        secure: false,
        max_record_size: 64 * 1024,
        ..Options::default()
    };
    let Some(config) = root.to_str() else {
        panic!("the temp dir {} is not UTF-8", root.display());
    };
    run_instrumented(FileProvider, config, options, serve).await;
}

/// The memory provider with periodic ID rotation on (every 3 s, a grace of 2 s), running
/// the `rotation` group only: the other scenarios expect no cookie where a rotation would
/// send one, and every other set-up reports the group as not run.
pub async fn memory_with_rotation<F, Fut>(serve: F)
where
    F: Fn(Manager) -> Fut,
    Fut: Future<Output = String>,
{
    let options = Options {
        rotation_interval: Some(Duration::from_secs(3)),
        rotation_grace: Duration::from_secs(2),
        ..Options::default()
    };
    let (manager, _) = instrumented_memory(options.clone());
    let target = Target::for_options(serve(manager).await, &options);
    let rotation: Vec<_> = crate::scenarios::ALL
        .iter()
        .filter(|s| s.group == ROTATION)
        .map(|s| s.name)
        .collect();
    let report = crate::run_only(&target, |name| rotation.contains(&name)).await;
    println!("{report}");
    assert!(
        !report.scenarios.is_empty()
            && report
                .scenarios
                .iter()
                .all(|s| s.outcome == Outcome::Passed),
        "every rotation scenario should have run and passed:\n{report}"
    );
}

/// The scenario group that needs a server rotating IDs.
const ROTATION: &str = "rotation";

/// The scenario group that needs a server with a per-owner cap.
const OWNER_CAP: &str = "owner-cap";

/// The memory provider with device metadata on and a per-owner cap of 2, once under each
/// policy (`refuse`, then `evict`), running the `devices` and `owner-cap` groups: with a
/// cap, the other scenarios' repeated logins of one user would meet it.
pub async fn memory_with_owner_cap<F, Fut>(serve: F)
where
    F: Fn(Manager) -> Fut,
    Fut: Future<Output = String>,
{
    for policy in [OwnerLimitPolicy::Refuse, OwnerLimitPolicy::Evict] {
        let options = Options {
            device_metadata: true,
            max_sessions_per_owner: Some(2),
            owner_limit_policy: policy,
            ..Options::default()
        };
        let (manager, store) = instrumented_memory(options.clone());
        let target = Target::for_options(serve(manager).await, &options)
            .with_write_counter(move || store.writes());
        let groups = ["devices", OWNER_CAP];
        let names: Vec<_> = crate::scenarios::ALL
            .iter()
            .filter(|s| groups.contains(&s.group))
            .map(|s| s.name)
            .collect();
        let report = crate::run_only(&target, |name| names.contains(&name)).await;
        println!("{report}");
        assert!(
            report.scenarios.len() == 2
                && report
                    .scenarios
                    .iter()
                    .all(|s| s.outcome == Outcome::Passed),
            "the devices and owner-cap scenarios should have run and passed under {policy}:\n{report}"
        );
    }
}

/// The demos' own wiring: the provider by name from `demo_support::registry()`, GC running
/// (every 50 ms, so passes happen during the run); no outage switch, so the outage scenario
/// must report "not run" while everything else passes.
pub async fn registry_built_without_outage_switch<F, Fut>(serve: F)
where
    F: Fn(Manager) -> Fut,
    Fut: Future<Output = String>,
{
    let registry =
        demo_support::registry().unwrap_or_else(|e| panic!("cannot build the registry: {e}"));
    let options = Options::default();
    let manager = Manager::new(options.clone(), &registry)
        .await
        .unwrap_or_else(|e| panic!("cannot open the memory provider by name: {e}"));
    let gc = manager.start_gc_every(Duration::from_millis(50));
    let target = Target::for_options(serve(manager).await, &options);
    let report = crate::run(&target).await;
    println!("{report}");
    report.assert_passed();
    let outage = report.scenarios.iter().find(|s| s.group == "outage");
    assert!(
        outage.is_some_and(|s| matches!(s.outcome, Outcome::NotRun(_))),
        "the outage scenario should be listed as not run:\n{report}"
    );
    assert!(gc.is_running(), "GC stopped during the run");
    gc.stop().await;
}

/// Opens `provider`'s store wrapped in [`Instrumented`], serves a manager over it, and runs
/// the suite with the outage switch and the write counter wired to it: every scenario must
/// pass, none may be skipped.
async fn run_instrumented<F, Fut>(provider: impl Provider, config: &str, options: Options, serve: F)
where
    F: Fn(Manager) -> Fut,
    Fut: Future<Output = String>,
{
    let context = ProviderContext {
        clock: Arc::new(SystemClock),
        max_record_size: options.max_record_size,
        max_lifetime_ms: duration_millis(options.idle_lifetime()),
    };
    let store = provider
        .open(config, &context)
        .await
        .unwrap_or_else(|e| panic!("cannot open the {} store: {e}", provider.name()));
    let store = Arc::new(Instrumented::new(store));
    let manager = Manager::with_store(options.clone(), store.clone(), Arc::new(SystemClock))
        .unwrap_or_else(|e| panic!("invalid options: {e}"));
    let switch = store.clone();
    let target = Target::for_options(serve(manager).await, &options)
        .with_outage(move |down| switch.set_down(down))
        .with_write_counter(move || store.writes());
    let report = crate::run(&target).await;
    println!("{report}");
    report.assert_passed();
    assert!(
        report.scenarios.iter().all(|s| s.outcome == Outcome::Passed
            || ((s.group == ROTATION || s.group == OWNER_CAP)
                && matches!(s.outcome, Outcome::NotRun(_)))),
        "every scenario should have run and passed (but rotation and owner-cap, not run without them):\n{report}"
    );
}
