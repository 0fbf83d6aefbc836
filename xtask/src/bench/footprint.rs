//! The footprint section: what one live session costs each networked backend in storage, for
//! the capacity figures in `SCALING.md`.
//!
//! Each backend gets a fresh namespace and the same sessions, created through the public API
//! (a [`Manager`] over the provider, as an application would): one 100-byte string value and
//! an owner (`user-NNNNNN`), i.e. a signed-in user with a little data. Bytes per session =
//! what the backend reports it holds after, minus before, over the number of sessions:
//!
//! - Redis: `used_memory` from `INFO memory` of a private `redis-server` (nothing else in it);
//! - PostgreSQL: `pg_total_relation_size` of the table (heap, TOAST and both indexes);
//! - MariaDB: `data_length + index_length` of the table after `ANALYZE TABLE` (InnoDB pages);
//! - memcached: the `bytes` stat (item sizes; slab rounding comes on top).
//!
//! Unlike the HTTP sections nothing here is timed, so the figures do not move with load; the
//! xtask's own (debug) build drives the stores.

use std::fmt::Write as _;
use std::io::{Read, Write as _};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use session_core::{Manager, Options};
use session_redis::testing::server::{RedisServer, redis_cli};

use super::Bench;
use super::report::Report;
use crate::services::ensure_ports;

/// Sessions created per backend (fewer with `--quick`).
const SESSIONS: usize = 20_000;
const QUICK_SESSIONS: usize = 5_000;
/// Requests in flight while seeding, so the SQL backends do not take minutes.
const PARALLEL: usize = 16;
/// The table the SQL backends are measured in (dropped before and after).
const TABLE: &str = "bench_footprint";

/// One backend's figure.
#[derive(Debug)]
struct Row {
    backend: &'static str,
    bytes_per_session: f64,
    measure: &'static str,
}

/// What the section measured.
#[derive(Debug, Default)]
pub(super) struct Footprint {
    sessions: usize,
    rows: Vec<Row>,
}

impl Bench {
    pub(super) fn footprint(&self, report: &mut Report) -> Result<()> {
        ensure_ports(&[5432, 3306, 11211])?;
        let sessions = if self.plan.quick {
            QUICK_SESSIONS
        } else {
            SESSIONS
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let mut footprint = Footprint {
            sessions,
            rows: Vec::new(),
        };
        runtime.block_on(async {
            footprint.rows.push(redis(sessions).await?);
            footprint.rows.push(postgres(sessions).await?);
            footprint.rows.push(mysql(sessions).await?);
            footprint.rows.push(memcached(sessions).await?);
            anyhow::Ok(())
        })?;
        report.footprint = Some(footprint);
        Ok(())
    }
}

/// Creates `n` signed-in sessions through a manager over `provider` with `config`.
async fn seed(provider: &str, config: &str, n: usize) -> Result<()> {
    let options = Options {
        provider: provider.to_owned(),
        provider_config: config.to_owned(),
        ..Options::default()
    };
    let manager = Manager::new(options, &demo_support::registry()?)
        .await
        .with_context(|| format!("opening {provider} with `{config}`"))?;
    let value = "x".repeat(100);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..PARALLEL {
        let (manager, value, next) = (manager.clone(), value.clone(), next.clone());
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return anyhow::Ok(());
                }
                let session = manager.load([]);
                session.set("data", &value).await?;
                session.set_owner(Some(&format!("user-{i:06}"))).await?;
                session.commit().await?;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

async fn redis(n: usize) -> Result<Row> {
    let server = RedisServer::start().context("starting a private redis-server")?;
    let used = || -> Result<f64> {
        let info = redis_cli(server.port(), &["info", "memory"])?;
        stat(&info, "used_memory:").context("no used_memory in INFO memory")
    };
    let config = format!("addr={}", server.addr());
    // Opening the store loads its scripts; measure from after that.
    seed("redis", &config, 1).await?;
    let before = used()?;
    seed("redis", &config, n).await?;
    let after = used()?;
    Ok(Row {
        backend: "redis",
        bytes_per_session: (after - before) / n as f64,
        measure: "`used_memory` (INFO memory), keys and index entries",
    })
}

async fn postgres(n: usize) -> Result<Row> {
    let psql = |sql: &str| -> Result<String> {
        sh(Command::new("psql")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-Atc"])
            .arg(sql))
    };
    psql(&format!("DROP TABLE IF EXISTS {TABLE}"))?;
    let config = format!("postgres://postgres@127.0.0.1:5432/test?table={TABLE}");
    seed("postgres", &config, n).await?;
    let size = psql(&format!("SELECT pg_total_relation_size('{TABLE}')"))?;
    psql(&format!("DROP TABLE IF EXISTS {TABLE}"))?;
    Ok(Row {
        backend: "postgres",
        bytes_per_session: parse(&size)? / n as f64,
        measure: "`pg_total_relation_size` (heap, TOAST, expiry and owner indexes)",
    })
}

async fn mysql(n: usize) -> Result<Row> {
    let mariadb = |sql: &str| -> Result<String> {
        sh(Command::new("mariadb")
            .args(["-h", "127.0.0.1", "-u", "root", "test", "-N", "-e"])
            .arg(sql))
    };
    mariadb(&format!("DROP TABLE IF EXISTS {TABLE}"))?;
    let config = format!("mysql://root@127.0.0.1:3306/test?table={TABLE}");
    seed("mysql", &config, n).await?;
    mariadb(&format!("ANALYZE TABLE {TABLE}"))?;
    let size = mariadb(&format!(
        "SELECT data_length + index_length FROM information_schema.tables \
         WHERE table_schema = 'test' AND table_name = '{TABLE}'"
    ))?;
    mariadb(&format!("DROP TABLE IF EXISTS {TABLE}"))?;
    Ok(Row {
        backend: "mysql",
        bytes_per_session: parse(&size)? / n as f64,
        measure: "`data_length + index_length` (InnoDB pages, expiry and owner indexes)",
    })
}

async fn memcached(n: usize) -> Result<Row> {
    let bytes = || -> Result<f64> {
        let mut stream = TcpStream::connect(("127.0.0.1", 11211))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.write_all(b"stats\r\n")?;
        let mut text = String::new();
        let mut buf = [0u8; 4096];
        while !text.ends_with("END\r\n") {
            let read = stream.read(&mut buf)?;
            if read == 0 {
                bail!("memcached closed the connection during `stats`");
            }
            text.push_str(&String::from_utf8_lossy(&buf[..read]));
        }
        stat(&text, "STAT bytes ").context("no `bytes` in memcached's stats")
    };
    let prefix = format!("footprint-{:016x}:", getrandom::u64()?);
    let config = format!("memcache://127.0.0.1:11211?prefix={prefix}");
    let before = bytes()?;
    seed("memcache", &config, n).await?;
    let after = bytes()?;
    Ok(Row {
        backend: "memcache",
        bytes_per_session: (after - before) / n as f64,
        measure: "the `bytes` stat (item sizes; slab rounding not included)",
    })
}

/// The number after `key` on its line of `text`.
fn stat(text: &str, key: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|v| v.trim().parse().ok())
}

fn parse(text: &str) -> Result<f64> {
    text.trim()
        .parse()
        .with_context(|| format!("not a number: {text:?}"))
}

/// Runs `cmd` and returns its standard output, failing with its standard error.
fn sh(cmd: &mut Command) -> Result<String> {
    let output = cmd
        .output()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !output.status.success() {
        bail!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

impl Footprint {
    /// The report's footprint section.
    pub(super) fn markdown(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "## Storage per session\n\n{} sessions per backend, created through `Manager` like an application would: one 100-byte string value and an owner \
             (a signed-in user). Bytes per session = what the backend reports after seeding, minus before, over the sessions. `SCALING.md` uses these figures.\n",
            self.sessions
        );
        out.push_str("| backend | bytes per session | measured as |\n|---|---:|---|\n");
        for row in &self.rows {
            let _ = writeln!(
                out,
                "| {} | {:.0} | {} |",
                row.backend, row.bytes_per_session, row.measure
            );
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_are_found_on_their_line() {
        let info = "# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\n";
        assert_eq!(stat(info, "used_memory:"), Some(1_048_576.0));
        let stats = "STAT pid 7\r\nSTAT bytes 4096\r\nSTAT bytes_read 10\r\nEND\r\n";
        assert_eq!(stat(stats, "STAT bytes "), Some(4096.0));
        assert_eq!(stat(stats, "STAT missing "), None);
    }
}
