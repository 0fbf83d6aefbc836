//! `cargo xtask bench [--quick] [--only SECTION,...]`: benchmarks against the crates users
//! would pick instead, written to `BENCHMARKS.md`. The programs it runs are installed like
//! the test services (see [`crate::services`]).
//!
//! Everything runs from the separate workspace in `bench/` (its own lock file and target
//! directory), so the comparison crates never enter the main build. Sections:
//!
//! - `memory`: HTTP over loopback, our axum layer + memory provider vs tower-sessions 0.15
//!   `MemoryStore` vs no session layer;
//! - `instructions`: the same three servers under `valgrind --tool=callgrind`, user-space
//!   instructions per request (deterministic, unlike the wall and CPU times above);
//! - `redis`: our redis provider (default config, and with the near cache on) vs
//!   tower-sessions 0.14 + tower-sessions-redis-store 0.16 vs actix-session 0.11, with Redis
//!   commands and Redis' own CPU time per request from a private `redis-server`;
//! - `sql`: our postgres and mysql providers vs tower-sessions 0.14 +
//!   tower-sessions-sqlx-store 0.15: requests per second, server and database CPU per
//!   request, and round trips per request counted by a protocol-aware proxy;
//! - `scale`: the memory provider with 1,000,000 sessions (RSS per session, GC, latency
//!   during GC) and tower-sessions' `MemoryStore` for bytes per session;
//! - `footprint`: bytes one stored session takes in Redis, PostgreSQL, MariaDB and memcached;
//! - `codec`: criterion, our record format against postcard, serde_json and tower-sessions'.
//!
//! Servers run on one core (`taskset -c 0`, one thread); the load generator (`wrk`, one
//! thread) and the databases get the other core. Each figure is the median of several runs,
//! and the contenders take turns within each round, so background load hits them alike.
//! Ratios are what to compare: absolute numbers depend on the machine.
//!
//! Modules: [`plan`] (options and run lengths), [`process`] (child processes), [`wrk`] (load
//! runs and seeding, over [`client`]), one module per section ([`http`] for memory and
//! Redis, with [`redis`] for counting commands; [`instructions`]; [`sql`] with its counting
//! [`proxy`]; [`scale`]; [`footprint`]; [`codec`]), each rendering its own part of the report, and [`report`] +
//! [`targets`] for the rest of `BENCHMARKS.md`.

mod client;
mod cluster;
mod codec;
mod figures;
mod footprint;
mod http;
mod instructions;
mod machine;
mod plan;
mod process;
mod proxy;
mod redis;
mod report;
mod scale;
mod sql;
mod stats;
mod targets;
mod wrk;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::services::{Tool, ensure_tools};
use crate::workspace_root;
use plan::{Options, Plan};
use report::Report;

/// What `cargo xtask bench --help` prints.
pub const HELP: &str = "\
usage: cargo xtask bench [--quick] [--only SECTION,...]

Builds the bench/ workspace in release mode, runs the benchmarks against the crates users
would pick instead (tower-sessions, actix-session) and writes BENCHMARKS.md, with
bench/NOTES.md appended. Not part of `cargo xtask test`; a full run takes about an hour.

Sections and their contenders:
  memory        HTTP over loopback: ours (axum + memory provider), tower-sessions 0.15
                MemoryStore, no layer
  instructions  the same servers under valgrind's callgrind: instructions per request
  redis         a private redis-server on port 6390: ours (axum), ours (actix-web), both
                again with the near cache on (near_cache=N), tower-sessions 0.14 +
                tower-sessions-redis-store 0.16, actix-session 0.11, and each framework
                without a layer; req/s, server CPU, Redis commands, round trips and
                Redis CPU (INFO cpu) per request
  cluster       a three-master Redis Cluster started for the section: ours (axum) creating
                sessions, then writing them; commands per master (INFO commandstats)
  sql           PostgreSQL and MariaDB on their standard ports (database session_bench):
                ours (axum + postgres / mysql provider) against tower-sessions 0.14 +
                tower-sessions-sqlx-store 0.15; req/s, server CPU, database CPU and round
                trips per request
  scale         1,000,000 sessions: RSS per session, GC, latency during GC
  footprint     bytes one signed-in session takes in Redis, PostgreSQL, MariaDB and
                memcached
  codec         criterion: record formats

The programs it runs are installed when missing: wrk and taskset always, valgrind for
instructions, redis-server and redis-cli for redis and cluster, and PostgreSQL and MariaDB are started for
sql, the way `cargo xtask test` does it: with apt when run as root on Debian, otherwise it
stops with a message naming what to install.

options:
  --quick             shorter runs (fewer repetitions, shorter measurements)
  --only SECTION,...  run only these sections (comma-separated, from the list above)
  -h, --help          this text";

/// Programs every section runs: the load generator and the core pinning.
const TOOLS: &[Tool] = &[("wrk", "wrk"), ("taskset", "util-linux")];

const HANDLERS: [&str; 3] = ["untouched", "read", "write"];
const SECTIONS: [&str; 8] = [
    "memory",
    "instructions",
    "redis",
    "cluster",
    "sql",
    "scale",
    "footprint",
    "codec",
];
const SESSIONS: usize = 10_000;
const CONNECTIONS: &str = "32";
const REDIS_PORT: u16 = 6390;
/// The databases the SQL section creates for itself, so other users' traffic stays apart.
const BENCH_DB: &str = "session_bench";

/// Entry point: `rest` are the arguments after `bench`.
pub fn main(rest: &[String]) -> Result<()> {
    let Options { plan, only } = Options::parse(rest)?;
    let started = Instant::now();
    let root = workspace_root();
    let bench = Bench {
        pids: Mutex::new(BTreeMap::new()),
        dir: root.join("bench"),
        bin: root.join("bench/target/release"),
        work: root.join("bench/target/run"),
        plan,
    };
    std::fs::create_dir_all(&bench.work)?;
    ensure_tools(TOOLS)?;

    let load_before = machine::load_average();
    let mut report = Report::default();
    for section in SECTIONS.iter().filter(|s| only.iter().any(|o| o == *s)) {
        eprintln!("bench: == {section} ==");
        let section_start = Instant::now();
        let outcome = match *section {
            "memory" => bench.memory(&mut report),
            "instructions" => bench.instructions(&mut report),
            "redis" => bench.redis(&mut report),
            "cluster" => bench.cluster(&mut report),
            "sql" => bench.sql(&mut report),
            "scale" => bench.scale(&mut report),
            "footprint" => bench.footprint(&mut report),
            "codec" => bench.codec(&mut report),
            _ => Ok(()),
        };
        if let Err(e) = outcome {
            eprintln!("bench: {section} failed: {e:#}");
            report.failures.push(format!("{section}: {e:#}"));
        }
        report
            .timings
            .push(((*section).to_owned(), section_start.elapsed()));
    }
    let load_after = machine::load_average();
    let markdown = report.markdown(&plan, &load_before, &load_after, started.elapsed(), &only);
    let path = root.join("BENCHMARKS.md");
    std::fs::write(&path, markdown)?;
    eprintln!(
        "bench: wrote {} in {:.0} s",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Where the bench workspace lives and what runs in it.
struct Bench {
    /// Server process IDs by port, to read their CPU time around each run.
    pids: Mutex<BTreeMap<u16, u32>>,
    dir: PathBuf,
    bin: PathBuf,
    work: PathBuf,
    plan: Plan,
}

impl Bench {
    /// Builds `packages` of the bench workspace in release mode.
    fn build(&self, packages: &[&str]) -> Result<()> {
        let mut cmd = self.cargo_in_bench("build");
        cmd.args(["--release", "--bins", "--benches"]);
        for p in packages {
            cmd.args(["-p", p]);
        }
        eprintln!("bench: building {}", packages.join(", "));
        let status = cmd.status().context("cannot run cargo build")?;
        if !status.success() {
            bail!("cargo build of {} failed", packages.join(", "));
        }
        Ok(())
    }

    /// `cargo <subcommand> --manifest-path bench/Cargo.toml`, for the caller to complete.
    /// The target directory is always `bench/target`, where the harness looks for the
    /// binaries, even when the caller's `CARGO_TARGET_DIR` points elsewhere.
    fn cargo_in_bench(&self, subcommand: &str) -> Command {
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.arg(subcommand)
            .arg("--manifest-path")
            .arg(self.dir.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", self.dir.join("target"));
        cmd
    }

    fn binary(&self, name: &str) -> PathBuf {
        self.bin.join(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_names_every_section() {
        for section in SECTIONS {
            assert!(HELP.contains(section), "{section} missing from:\n{HELP}");
        }
    }

    #[test]
    fn the_help_names_the_store_anchors_and_columns() {
        for anchor in [
            "tower-sessions-redis-store 0.16",
            "actix-session 0.11",
            "tower-sessions-sqlx-store 0.15",
            "near cache",
            "Redis CPU",
            "database CPU",
        ] {
            assert!(HELP.contains(anchor), "{anchor} missing from:\n{HELP}");
        }
    }
}
