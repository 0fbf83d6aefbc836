//! The metrics check: a scripted flow through a demo app over real HTTP, then `GET /metrics`,
//! whose counters and histogram counts must be exactly what the flow did, and which must not
//! name any session or user.
//!
//! It installs the process's global `metrics` recorder (`demo_support::install_prometheus`)
//! and expects to be alone in its process with it: an adapter runs it from a test binary of
//! its own (`tests/metrics.rs`), so under `cargo test` as under nextest no other test's
//! manager records into the same series.
//!
//! ```no_run
//! # async fn serve(_: session_core::Manager) -> String { String::new() }
//! #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
//! async fn metrics_after_a_scripted_flow() {
//!     http_scenarios::metrics::after_a_scripted_flow(serve).await;
//! }
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http::StatusCode;
use session_core::conformance::{Instrumented, Wrapper};
use session_core::{
    Manager, MockClock, Options, RawStore, Result, Saved, SessionId, Version, Write,
};
use session_memory::MemoryStore;

use crate::Target;
use crate::checks;
use crate::scenarios::{Ctx, Failure, ensure};

/// What `GET /metrics` must report after [`flow`], by series (labels in name order); every
/// other counter and histogram count of core's must be 0.
const EXPECTED: [(&str, f64); 16] = [
    // `GET /` twice.
    (r#"session_created_total{provider="memory"}"#, 2.0),
    // login, whoami, the conflicted PUT, its GET, logout.
    (r#"session_loaded_total{provider="memory"}"#, 5.0),
    // The login's changes after its move, the PUT's replay.
    (r#"session_saved_total{provider="memory"}"#, 2.0),
    (r#"session_conflicts_total{provider="memory"}"#, 1.0),
    (r#"session_regenerated_total{provider="memory"}"#, 1.0),
    (r#"session_destroyed_total{provider="memory"}"#, 1.0),
    (r#"session_expired_total{provider="memory"}"#, 1.0),
    // The pre-login ID replayed.
    (
        r#"session_rejected_total{provider="memory",reason="unknown_id"}"#,
        1.0,
    ),
    // The read that met the outage.
    (
        r#"session_backend_errors_total{kind="backend",operation="read",provider="memory"}"#,
        1.0,
    ),
    (r#"session_live{provider="memory"}"#, 1.0),
    // Written: two inserts, the login's move and save, the PUT's replayed save.
    (r#"session_record_size_bytes_count{provider="memory"}"#, 5.0),
    (
        r#"session_store_operation_duration_seconds_count{operation="insert",provider="memory"}"#,
        2.0,
    ),
    (
        r#"session_store_operation_duration_seconds_count{operation="regenerate",provider="memory"}"#,
        1.0,
    ),
    // The login's save, the PUT's conflicted and replayed saves.
    (
        r#"session_store_operation_duration_seconds_count{operation="save",provider="memory"}"#,
        3.0,
    ),
    // Logout, and the expired record deleted.
    (
        r#"session_store_operation_duration_seconds_count{operation="destroy",provider="memory"}"#,
        2.0,
    ),
    (
        r#"session_store_operation_duration_seconds_count{operation="count",provider="memory"}"#,
        1.0,
    ),
];

/// Installs the Prometheus recorder, serves the demo app (with `serve`) over a memory store on
/// a mock clock, runs the flow (create, login, a rejected pre-login ID, a forced conflict, a
/// count, an outage, logout, an expiry) and checks every counter and histogram count of
/// `GET /metrics` exactly. A test body: panics with what differs.
pub async fn after_a_scripted_flow<F, Fut>(serve: F)
where
    F: Fn(Manager) -> Fut,
    Fut: Future<Output = String>,
{
    demo_support::install_prometheus().unwrap_or_else(|e| panic!("{e:#}"));
    let clock = MockClock::default();
    let instrumented = Arc::new(Instrumented::new(Arc::new(MemoryStore::default())));
    let store = Arc::new(Interfering {
        inner: instrumented.clone(),
        armed: AtomicBool::new(false),
    });
    let options = Options::default();
    let manager = Manager::with_store(options.clone(), store.clone(), Arc::new(clock.clone()))
        .unwrap_or_else(|e| panic!("invalid options: {e}"));
    let ctx = Ctx::new(Target::for_options(serve(manager).await, &options));
    let stores = Stores {
        clock,
        instrumented,
        interfering: store,
        idle: options.idle_lifetime(),
    };
    match flow(&ctx, &stores).await {
        Ok(()) => {}
        Err(Failure::Failed(why) | Failure::Unsupported(why) | Failure::NotRun(why)) => {
            panic!("metrics after a scripted flow: {why}")
        }
    }
}

/// The handles the flow drives the store and the time with.
struct Stores {
    clock: MockClock,
    instrumented: Arc<Instrumented>,
    interfering: Arc<Interfering>,
    idle: std::time::Duration,
}

/// Every lifecycle step once: create, login (load, regenerate, save), a rejected old ID, a
/// conflicted write, a count, an outage, logout, and a session that expires; then the scrape.
async fn flow(ctx: &Ctx, stores: &Stores) -> Result<(), Failure> {
    let first = ctx.get("/", None).await?;
    first.expect_status(StatusCode::OK)?;
    let anonymous = checks::new_cookie(&ctx.target, &first)?;
    let user = ctx.user("metrics");
    let logged_in = ctx.login(&user, Some(&anonymous)).await?;
    ctx.get("/whoami", Some(&logged_in))
        .await?
        .expect_text(&user)?;
    ctx.get("/whoami", Some(&anonymous))
        .await?
        .expect_status(StatusCode::UNAUTHORIZED)?;

    stores.interfering.armed.store(true, Ordering::SeqCst);
    ctx.put("color", "blue", Some(&logged_in))
        .await?
        .expect_status(StatusCode::NO_CONTENT)?;
    ensure(!stores.interfering.armed.load(Ordering::SeqCst), || {
        "the PUT did not save".into()
    })?;
    ctx.get("/session/color", Some(&logged_in))
        .await?
        .expect_text("blue")?;
    let stats = ctx.get("/stats", None).await?.json()?;
    ensure(stats["count"] == 1, || format!("GET /stats: {stats}"))?;

    stores.instrumented.set_down(true);
    let outage = ctx.get("/whoami", Some(&logged_in)).await;
    stores.instrumented.set_down(false);
    outage?.expect_status(StatusCode::SERVICE_UNAVAILABLE)?;

    ctx.post("/logout", Some(&logged_in))
        .await?
        .expect_status(StatusCode::NO_CONTENT)?;
    let second = ctx.get("/", None).await?;
    second.expect_status(StatusCode::OK)?;
    let expiring = checks::new_cookie(&ctx.target, &second)?;
    stores
        .clock
        .advance(stores.idle + std::time::Duration::from_secs(1));
    ctx.get("/whoami", Some(&expiring))
        .await?
        .expect_status(StatusCode::UNAUTHORIZED)?;

    let scrape = ctx.get("/metrics", None).await?;
    scrape.expect_status(StatusCode::OK)?;
    for secret in [&anonymous, &logged_in, &expiring, &user] {
        ensure(!scrape.body.contains(secret.as_str()), || {
            format!("GET /metrics names {secret:?}:\n{}", scrape.body)
        })?;
    }
    check_samples(&scrape.body)
}

/// Compares the scrape with [`EXPECTED`]: each listed series has its value, and every other
/// counter, histogram count and gauge of core's is 0.
fn check_samples(text: &str) -> Result<(), Failure> {
    let samples = samples(text)?;
    let mut wrong = Vec::new();
    for (series, want) in EXPECTED {
        match samples.get(series) {
            Some(got) if *got == want => {}
            got => wrong.push(format!("{series}: expected {want}, got {got:?}")),
        }
    }
    for (series, got) in &samples {
        let name = series.split('{').next().unwrap_or(series);
        let checked = name.starts_with("session_")
            && (name.ends_with("_total") || name.ends_with("_count") || name == "session_live");
        let listed = EXPECTED.iter().any(|(s, _)| s == series);
        if checked && !listed && *got != 0.0 {
            wrong.push(format!("{series}: expected 0, got {got}"));
        }
    }
    ensure(wrong.is_empty(), || {
        format!("GET /metrics:\n{}\n--- scraped:\n{text}", wrong.join("\n"))
    })
}

/// The samples of a Prometheus text exposition by series, written `name{k="v",...}` with the
/// labels in name order (or `name` alone).
fn samples(text: &str) -> Result<BTreeMap<String, f64>, Failure> {
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || Failure::failed(format!("GET /metrics: cannot parse {line:?}"));
        let (series, value) = line.rsplit_once(' ').ok_or_else(bad)?;
        let value: f64 = value.parse().map_err(|_| bad())?;
        let series = match series.split_once('{') {
            None => series.to_owned(),
            Some((name, labels)) => {
                let labels = labels.strip_suffix('}').ok_or_else(bad)?;
                let mut pairs: Vec<&str> = labels.split(',').filter(|p| !p.is_empty()).collect();
                pairs.sort_unstable();
                format!("{name}{{{}}}", pairs.join(","))
            }
        };
        samples.insert(series, value);
    }
    Ok(samples)
}

/// A store whose next `save`, once armed, conflicts as if another request had written the
/// session just before: it saves the stored record again (a new version), then forwards the
/// save, whose expected version is now stale.
struct Interfering {
    inner: Arc<Instrumented>,
    armed: AtomicBool,
}

impl Wrapper for Interfering {
    fn inner(&self) -> &dyn RawStore {
        &*self.inner
    }

    async fn save(&self, id: &SessionId, expected: Version, record: Write<'_>) -> Result<Saved> {
        if self.armed.swap(false, Ordering::SeqCst)
            && let Some(stored) = RawStore::read(&*self.inner, id).await?
        {
            let again = Write {
                body: &stored.body,
                ..record
            };
            RawStore::save(&*self.inner, id, stored.version, again).await?;
        }
        RawStore::save(&*self.inner, id, expected, record).await
    }
}
