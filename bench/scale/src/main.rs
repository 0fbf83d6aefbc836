//! `scale ours <sessions> <rounds>` and `scale ts <sessions>`: the memory provider at scale.
//!
//! Prints `name value` lines that `cargo xtask bench` parses:
//!
//! - `bytes_per_session`: (RSS after creating the sessions - RSS before) / sessions, where
//!   every session holds one 100-byte string, created through the public API (ours:
//!   `Manager::load` + `set` + `commit`; tower-sessions: `Session::insert` + `save`).
//! - ours only, per round: `gc_ms` (one GC pass removing half of the sessions), and the
//!   latency of `load` + `get` + `commit` on live sessions, as `p50_us`/`p99_us` without GC
//!   and `gc_p50_us`/`gc_p99_us` while the GC pass runs on another task (2 worker threads).
//!
//! Half of the sessions expire by moving a mock clock: half A is created at t0, half B 50
//! minutes later, and the clock then stands at t0 + 70 minutes with a 60-minute idle
//! lifetime. Later rounds re-create an expired half A the same way.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use session_core::{Clock, Manager, MockClock, Options, SystemClock};
use session_memory::MemoryStore;

const PAYLOAD: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyzAB";
/// Live sessions the latency loop cycles through (kept small so the list does not skew RSS).
const SAMPLE: usize = 10_000;
const MINUTE: Duration = Duration::from_secs(60);

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.get(1).context("missing session count")?.parse()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match args.first().map(String::as_str) {
        Some("ours") => {
            let rounds: usize = args.get(2).map_or(Ok(3), |r| r.parse())?;
            runtime.block_on(ours(n, rounds))
        }
        Some("ts") => runtime.block_on(ts(n)),
        _ => bail!("usage: scale ours <sessions> <rounds> | scale ts <sessions>"),
    }
}

fn rss_bytes() -> Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .context("statm has no RSS field")?
        .parse()?;
    Ok(pages * 4096)
}

/// Creates `count` sessions holding the payload; keeps up to `keep` of their cookies.
async fn create(manager: &Manager, count: usize, keep: usize) -> Result<Vec<String>> {
    let mut cookies = Vec::with_capacity(keep);
    for i in 0..count {
        let session = manager.load([]);
        session.set("p", PAYLOAD).await?;
        let commit = session.commit().await?;
        if i < keep {
            let set_cookie = commit.set_cookie.context("a new session sets a cookie")?;
            let pair = set_cookie.split(';').next().unwrap_or_default().to_owned();
            cookies.push(pair);
        }
    }
    Ok(cookies)
}

async fn ours(n: usize, rounds: usize) -> Result<()> {
    let t0 = SystemClock.now();
    let clock = Arc::new(MockClock::new(t0));
    let options = Options {
        max_lifetime: Some(60 * MINUTE),
        secure: false,
        ..Options::default()
    };
    let before = rss_bytes()?;
    let store = Arc::new(MemoryStore::default());
    let manager = Manager::with_store(options, store, clock.clone())?;
    let half = n / 2;
    create(&manager, half, 0).await?;
    clock.set(t0 + 50 * 60_000);
    let cookies = Arc::new(create(&manager, n - half, SAMPLE).await?);
    let after = rss_bytes()?;
    println!("sessions {n}");
    println!(
        "bytes_per_session {:.1}",
        (after - before) as f64 / n as f64
    );
    let now = t0 + 70 * 60_000;
    clock.set(now);
    // Warm-up: the first read after the clock jump refreshes each sampled session's expiry.
    latencies(&manager, &cookies, None).await?;
    for round in 0..rounds {
        if round > 0 {
            clock.set(t0);
            create(&manager, half, 0).await?;
            clock.set(now);
        }
        let quiet = latencies(&manager, &cookies, Some(Duration::from_secs(2))).await?;
        let gc = {
            let manager = manager.clone();
            tokio::spawn(async move {
                let start = Instant::now();
                let removed = manager.gc().await;
                (removed, start.elapsed())
            })
        };
        let during = latencies_until(&manager, &cookies, &gc).await?;
        let (removed, took) = gc.await?;
        let removed = removed?;
        if removed as usize != half {
            bail!("GC removed {removed} sessions, expected {half}");
        }
        println!("gc_ms {:.1}", took.as_secs_f64() * 1e3);
        println!("gc_samples {}", during.len());
        report("", &quiet);
        report("gc_", &during);
    }
    Ok(())
}

async fn request(manager: &Manager, cookie: &str) -> Result<Duration> {
    let start = Instant::now();
    let session = manager.load([cookie]);
    let value = session.get::<String>("p").await?;
    session.commit().await?;
    let took = start.elapsed();
    if value.as_deref() != Some(PAYLOAD) {
        bail!("a live session lost its payload");
    }
    Ok(took)
}

/// One pass over the sample, or requests for `duration`.
async fn latencies(
    manager: &Manager,
    cookies: &Arc<Vec<String>>,
    duration: Option<Duration>,
) -> Result<Vec<Duration>> {
    // Runs on the same thread as `latencies_until`, so both figures come from one setup.
    let mut out = Vec::new();
    let start = Instant::now();
    for cookie in cookies.iter().cycle() {
        out.push(request(manager, cookie).await?);
        match duration {
            None if out.len() == cookies.len() => break,
            Some(d) if start.elapsed() >= d => break,
            _ => {}
        }
    }
    Ok(out)
}

async fn latencies_until<T>(
    manager: &Manager,
    cookies: &Arc<Vec<String>>,
    task: &tokio::task::JoinHandle<T>,
) -> Result<Vec<Duration>> {
    let mut out = Vec::new();
    for cookie in cookies.iter().cycle() {
        if task.is_finished() {
            break;
        }
        out.push(request(manager, cookie).await?);
    }
    Ok(out)
}

fn report(prefix: &str, samples: &[Duration]) {
    let mut us: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e6).collect();
    us.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        if us.is_empty() {
            f64::NAN
        } else {
            us[((us.len() - 1) as f64 * q).round() as usize]
        }
    };
    println!("{prefix}p50_us {:.2}", pick(0.50));
    println!("{prefix}p99_us {:.2}", pick(0.99));
}

async fn ts(n: usize) -> Result<()> {
    use tower_sessions::{MemoryStore, Session};
    let before = rss_bytes()?;
    let store = Arc::new(MemoryStore::default());
    for _ in 0..n {
        let session = Session::new(None, store.clone(), None);
        session.insert("p", PAYLOAD).await?;
        session.save().await?;
    }
    let after = rss_bytes()?;
    println!("sessions {n}");
    println!(
        "bytes_per_session {:.1}",
        (after - before) as f64 / n as f64
    );
    Ok(())
}
