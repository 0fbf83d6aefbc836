//! `cargo xtask bench [--quick] [--only SECTION,...]`: benchmarks against the crates users
//! would pick instead, written to `BENCHMARKS.md`.
//!
//! Everything runs from the separate workspace in `bench/` (its own lock file and target
//! directory), so the comparison crates never enter the main build. Sections:
//!
//! - `memory`: HTTP over loopback, our axum layer + memory provider vs tower-sessions 0.15
//!   `MemoryStore` vs no session layer;
//! - `redis`: our redis provider vs tower-sessions 0.14 + tower-sessions-redis-store 0.16 vs
//!   actix-session 0.11, with Redis commands per request from a private `redis-server`;
//! - `sql`: our postgres and mysql providers, requests per second and round trips per
//!   request counted by a protocol-aware proxy;
//! - `scale`: the memory provider with 1,000,000 sessions (RSS per session, GC, latency
//!   during GC) and tower-sessions' `MemoryStore` for bytes per session;
//! - `codec`: criterion, our record format against postcard, serde_json and tower-sessions'.
//!
//! Servers run on one core (`taskset -c 0`, one thread); the load generator (`wrk`, one
//! thread) and the databases get the other core. Each figure is the median of several runs,
//! and the contenders take turns within each round, so background load hits them alike.
//! Ratios are what to compare: absolute numbers depend on the machine.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::workspace_root;

const HANDLERS: [&str; 3] = ["untouched", "read", "write"];
const SECTIONS: [&str; 5] = ["memory", "redis", "sql", "scale", "codec"];
const SESSIONS: usize = 10_000;
const CONNECTIONS: &str = "32";
const REDIS_PORT: u16 = 6390;
/// The databases the SQL section creates for itself, so other users' traffic stays apart.
const BENCH_DB: &str = "session_bench";

/// Run lengths: the full run and `--quick`.
#[derive(Debug, Clone, Copy)]
struct Plan {
    quick: bool,
    /// Repetitions of every HTTP measurement (the figure is their median).
    runs: usize,
    /// Seconds per HTTP measurement.
    secs: u64,
    /// Sessions in the scale section and processes per contender there.
    scale_sessions: usize,
    scale_processes: usize,
    scale_rounds: usize,
    /// Criterion measurement time per function, in seconds.
    criterion_secs: u64,
    /// Seconds of the extra run that counts Redis commands / SQL round trips.
    count_secs: u64,
}

impl Plan {
    fn new(quick: bool) -> Self {
        if quick {
            Plan {
                quick,
                runs: 3,
                secs: 2,
                scale_sessions: 1_000_000,
                scale_processes: 1,
                scale_rounds: 3,
                criterion_secs: 1,
                count_secs: 1,
            }
        } else {
            Plan {
                quick,
                runs: 5,
                secs: 3,
                scale_sessions: 1_000_000,
                scale_processes: 3,
                scale_rounds: 3,
                criterion_secs: 2,
                count_secs: 2,
            }
        }
    }
}

/// Entry point: `rest` are the arguments after `bench`.
pub fn main(rest: &[String]) -> Result<()> {
    let mut quick = false;
    let mut only: Vec<String> = SECTIONS.iter().map(|s| (*s).to_owned()).collect();
    let mut args = rest.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--only" => {
                let list = args.next().context("--only needs a comma-separated list")?;
                only = list.split(',').map(str::to_owned).collect();
                if let Some(bad) = only.iter().find(|s| !SECTIONS.contains(&s.as_str())) {
                    bail!("unknown section {bad:?}; sections: {}", SECTIONS.join(", "));
                }
            }
            other => bail!("unknown bench option {other:?} (use --quick, --only SECTIONS)"),
        }
    }
    let plan = Plan::new(quick);
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
    need_tool("wrk", "apt-get install -y wrk")?;
    need_tool("taskset", "apt-get install -y util-linux")?;

    let load_before = load_average();
    let mut report = Report::default();
    for section in SECTIONS.iter().filter(|s| only.iter().any(|o| o == *s)) {
        eprintln!("bench: == {section} ==");
        let section_start = Instant::now();
        let outcome = match *section {
            "memory" => bench.memory(&mut report),
            "redis" => bench.redis(&mut report),
            "sql" => bench.sql(&mut report),
            "scale" => bench.scale(&mut report),
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
    let load_after = load_average();
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

/// The bench-workspace packages a section runs.
fn section_packages(section: &str) -> &'static [&'static str] {
    match section {
        "memory" => &["srv-memory"],
        "redis" => &[
            "srv-memory",
            "srv-redis-ours",
            "srv-redis-ts",
            "srv-redis-actix",
        ],
        "sql" => &["srv-postgres", "srv-mysql"],
        "scale" => &["scale"],
        "codec" => &["codec"],
        _ => &[],
    }
}

fn need_tool(name: &str, install: &str) -> Result<()> {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        bail!("`{name}` is not installed: {install}");
    }
    Ok(())
}

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
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.args([
            "build",
            "--release",
            "--bins",
            "--benches",
            "--manifest-path",
        ])
        .arg(self.dir.join("Cargo.toml"));
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

    fn binary(&self, name: &str) -> PathBuf {
        self.bin.join(name)
    }

    /// Starts a server binary pinned to core 0 and waits until it accepts connections.
    fn server(&self, name: &str, args: &[String], port: u16) -> Result<Server> {
        let log = std::fs::File::create(self.work.join(format!("{name}-{port}.log")))?;
        let child = Command::new("taskset")
            .args(["-c", "0"])
            .arg(self.binary(name))
            .args(args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        if let Ok(mut pids) = self.pids.lock() {
            // taskset execs the server, so the PID is the server's.
            pids.insert(port, child.id());
        }
        let server = Server {
            child,
            name: name.to_owned(),
        };
        wait_for_port(port, Duration::from_secs(30))
            .with_context(|| format!("{name} did not start; see {}", self.work.display()))?;
        Ok(server)
    }

    /// One wrk run against `path` with cookies from `cookies`; load generator on core 1.
    fn wrk(&self, port: u16, path: &str, cookies: &Path, secs: u64) -> Result<Wrk> {
        let script = self.work.join("cookies.lua");
        std::fs::write(&script, WRK_SCRIPT)?;
        let pid = self.pids.lock().ok().and_then(|p| p.get(&port).copied());
        let cpu_before = pid.map(cpu_ns);
        let out = Command::new("taskset")
            .args(["-c", "1", "wrk", "-t1", "-c", CONNECTIONS, "-d"])
            .arg(format!("{secs}s"))
            .arg("-s")
            .arg(&script)
            .arg(format!("http://127.0.0.1:{port}{path}"))
            .env("BENCH_COOKIES", cookies)
            .env("BENCH_PATH", path)
            .output()
            .context("cannot run wrk")?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            bail!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
        }
        let mut wrk = Wrk::parse(&text)?;
        if let (Some(pid), Some(Ok(before))) = (pid, cpu_before)
            && let Ok(after) = cpu_ns(pid)
        {
            wrk.cpu_us = (after - before) as f64 / 1e3 / wrk.requests.max(1) as f64;
        }
        Ok(wrk)
    }

    /// Creates `SESSIONS` sessions through `/write` and saves their cookies, one per line.
    fn seed(&self, port: u16, file: &str) -> Result<PathBuf> {
        let cookies = seed_sessions(port, SESSIONS)?;
        // The sessions must work: a read with the first cookie finds the stored value.
        let (status, _, body) = http_get(port, "/read", Some(&cookies[0]))?;
        if status != 200 || body.trim() == "0" {
            bail!(
                "port {port}: a seeded session does not read back (status {status}, body {body:?})"
            );
        }
        let path = self.work.join(file);
        std::fs::write(&path, cookies.join("\n") + "\n")?;
        Ok(path)
    }

    /// Runs every handler for every contender, `runs` rounds, contenders taking turns;
    /// `measure` wraps each wrk run (the Redis section counts commands around it).
    fn rounds(
        &self,
        contenders: &[(&str, u16, PathBuf)],
        mut around: impl FnMut(&str, &str, &dyn Fn() -> Result<Wrk>) -> Result<Wrk>,
    ) -> Result<BTreeMap<(String, String), Vec<Wrk>>> {
        let mut out: BTreeMap<(String, String), Vec<Wrk>> = BTreeMap::new();
        if !self.plan.quick {
            for (_, port, cookies) in contenders {
                // Warm-up: connections, caches, allocator. (`--quick` relies on the median
                // of its rounds instead.)
                self.wrk(*port, "/read", cookies, 1)?;
            }
        }
        for round in 0..self.plan.runs {
            for handler in HANDLERS {
                for (name, port, cookies) in contenders {
                    let path = format!("/{handler}");
                    let run = || self.wrk(*port, &path, cookies, self.plan.secs);
                    let result = around(name, handler, &run)?;
                    eprintln!(
                        "bench: round {} {name:>10} /{handler:<9} {:>9.0} req/s{}",
                        round + 1,
                        result.rps,
                        if result.errors > 0 {
                            format!(" ({} errors)", result.errors)
                        } else {
                            String::new()
                        }
                    );
                    out.entry(((*name).to_owned(), handler.to_owned()))
                        .or_default()
                        .push(result);
                }
            }
        }
        Ok(out)
    }

    fn memory(&self, report: &mut Report) -> Result<()> {
        self.build(section_packages("memory"))?;
        let (p_none, p_ours, p_ts) = (18101, 18102, 18103);
        let _none = self.server("srv-memory", &["none".into(), p_none.to_string()], p_none)?;
        let _ours = self.server("srv-memory", &["ours".into(), p_ours.to_string()], p_ours)?;
        let _ts = self.server("srv-memory", &["ts".into(), p_ts.to_string()], p_ts)?;
        let ours_cookies = self.seed(p_ours, "memory-ours.cookies")?;
        let ts_cookies = self.seed(p_ts, "memory-ts.cookies")?;
        let contenders = [
            ("none", p_none, ours_cookies.clone()),
            ("ours", p_ours, ours_cookies),
            ("ts-0.15", p_ts, ts_cookies),
        ];
        let results = self.rounds(&contenders, |_, _, run| run())?;
        report.memory = Some(Http::from_runs(results));
        Ok(())
    }

    fn redis(&self, report: &mut Report) -> Result<()> {
        need_tool("redis-server", "apt-get install -y redis-server")?;
        self.build(&[
            "srv-memory",
            "srv-redis-ours",
            "srv-redis-ts",
            "srv-redis-actix",
        ])?;
        let _redis = self.private_redis()?;
        let url = format!("redis://127.0.0.1:{REDIS_PORT}");
        let config = format!("addr=127.0.0.1:{REDIS_PORT}");
        let (p_none, p_ours, p_ts) = (18110, 18111, 18112);
        let (p_ax_none, p_ax_ours, p_ax) = (18113, 18114, 18115);
        // The axum baseline comes from the same binary (and build) as our axum contender.
        let _none = self.server(
            "srv-redis-ours",
            &[p_none.to_string(), "none".into()],
            p_none,
        )?;
        let _ours = self.server(
            "srv-redis-ours",
            &[p_ours.to_string(), config.clone()],
            p_ours,
        )?;
        let _ts = self.server("srv-redis-ts", &[p_ts.to_string(), url.clone()], p_ts)?;
        let actix = |mode: &str, port: u16, target: &str| {
            self.server(
                "srv-redis-actix",
                &[mode.to_owned(), port.to_string(), target.to_owned()],
                port,
            )
        };
        let _ax_none = actix("none", p_ax_none, &url)?;
        let _ax_ours = actix("ours", p_ax_ours, &config)?;
        let _ax = actix("actix-session", p_ax, &url)?;
        let ours_cookies = self.seed(p_ours, "redis-ours.cookies")?;
        let contenders = [
            ("none-axum", p_none, ours_cookies.clone()),
            ("ours", p_ours, ours_cookies.clone()),
            ("ts-0.14", p_ts, self.seed(p_ts, "redis-ts.cookies")?),
            ("none-actix", p_ax_none, ours_cookies.clone()),
            (
                "ours-actix",
                p_ax_ours,
                self.seed(p_ax_ours, "redis-ours-actix.cookies")?,
            ),
            ("actix-0.11", p_ax, self.seed(p_ax, "redis-actix.cookies")?),
        ];
        let mut commands: BTreeMap<(String, String), Vec<PerRequest>> = BTreeMap::new();
        let results = self.rounds(&contenders, |name, handler, run| {
            redis_cli(&["CONFIG", "RESETSTAT"])?;
            let result = run()?;
            let counted = redis_commandstats()?;
            commands
                .entry((name.to_owned(), handler.to_owned()))
                .or_default()
                .push(counted.per_request(result.requests));
            Ok(result)
        })?;
        // Round trips: commands the clients sent, without those Lua scripts ran inside Redis
        // (INFO commandstats counts both), from MONITOR during a short extra run.
        let mut trips = BTreeMap::new();
        for (name, port, cookies) in contenders.iter().filter(|c| !c.0.starts_with("none")) {
            for handler in HANDLERS {
                let per = self.redis_round_trips(*port, handler, cookies)?;
                trips.insert(((*name).to_owned(), handler.to_owned()), per);
            }
        }
        let mut http = Http::from_runs(results).with_commands(commands);
        http.trips = trips;
        report.redis = Some(http);
        Ok(())
    }

    fn redis_round_trips(&self, port: u16, handler: &str, cookies: &Path) -> Result<PerRequest> {
        let file = self.work.join("redis-monitor.txt");
        let mut monitor = Command::new("redis-cli")
            .args(["-p", &REDIS_PORT.to_string(), "monitor"])
            .stdout(std::fs::File::create(&file)?)
            .stderr(Stdio::null())
            .spawn()
            .context("cannot run redis-cli monitor")?;
        std::thread::sleep(Duration::from_millis(150));
        let run = self.wrk(port, &format!("/{handler}"), cookies, self.plan.count_secs);
        std::thread::sleep(Duration::from_millis(150));
        let _ = monitor.kill();
        let _ = monitor.wait();
        let run = run?;
        let text = std::fs::read_to_string(&file)?;
        let mut counts = BTreeMap::new();
        for line in text.lines() {
            // `<time> [<db> <client address | lua>] "<command>" ...`
            let Some((source, rest)) = line.split_once(']') else {
                continue;
            };
            if source.ends_with(" lua") {
                continue;
            }
            let Some(command) = rest.split('"').nth(1) else {
                continue;
            };
            *counts.entry(command.to_ascii_lowercase()).or_default() += 1;
        }
        Ok(Counts(counts).per_request(run.requests))
    }

    /// A redis-server of our own on [`REDIS_PORT`], so other users cannot pollute the counts.
    fn private_redis(&self) -> Result<Server> {
        if TcpStream::connect(("127.0.0.1", REDIS_PORT)).is_ok() {
            bail!("port {REDIS_PORT} is taken; the bench needs its own redis-server there");
        }
        let child = Command::new("taskset")
            .args(["-c", "1", "redis-server", "--port"])
            .arg(REDIS_PORT.to_string())
            .args(["--save", "", "--appendonly", "no", "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&self.work)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start redis-server")?;
        let server = Server {
            child,
            name: "redis-server".into(),
        };
        wait_for_port(REDIS_PORT, Duration::from_secs(10))?;
        Ok(server)
    }

    fn sql(&self, report: &mut Report) -> Result<()> {
        let mut sql = Sql::default();
        for db in [Db::Postgres, Db::Mysql] {
            match self.sql_one(db, &mut sql) {
                Ok(()) => {}
                Err(e) => {
                    eprintln!("bench: {} failed: {e:#}", db.name());
                    report.failures.push(format!("sql/{}: {e:#}", db.name()));
                }
            }
        }
        report.sql = Some(sql);
        Ok(())
    }

    fn sql_one(&self, db: Db, out: &mut Sql) -> Result<()> {
        db.create_database()?;
        let package = db.package();
        self.build(&[package])?;
        let (direct_port, counted_port, proxy_port) = db.ports();
        let proxy = Proxy::start(proxy_port, db.port(), db)?;
        let _direct = self.server(
            package,
            &[direct_port.to_string(), db.config(db.port())],
            direct_port,
        )?;
        let _counted = self.server(
            package,
            &[counted_port.to_string(), db.config(proxy_port)],
            counted_port,
        )?;
        let cookies = self.seed(direct_port, &format!("{}.cookies", db.name()))?;
        let contenders = [(db.name(), direct_port, cookies.clone())];
        let results = self.rounds(&contenders, |_, _, run| run())?;
        // Round trips: a short run through the counting proxy, per handler.
        let mut trips = BTreeMap::new();
        for handler in HANDLERS {
            let path = format!("/{handler}");
            proxy.reset();
            let run = self.wrk(counted_port, &path, &cookies, self.plan.count_secs)?;
            let counts = proxy.take();
            trips.insert(handler.to_owned(), counts.per_request(run.requests));
        }
        out.dbs
            .push((db.name().to_owned(), Http::from_runs(results), trips));
        Ok(())
    }

    fn scale(&self, report: &mut Report) -> Result<()> {
        self.build(&["scale"])?;
        let n = self.plan.scale_sessions.to_string();
        let mut scale = Scale::default();
        for _ in 0..self.plan.scale_processes {
            let ours = run_lines(
                Command::new(self.binary("scale"))
                    .args(["ours", &n])
                    .arg(self.plan.scale_rounds.to_string()),
            )?;
            for (key, value) in ours {
                scale.ours.entry(key).or_default().push(value);
            }
            let ts = run_lines(Command::new(self.binary("scale")).args(["ts", &n]))?;
            for (key, value) in ts {
                scale.ts.entry(key).or_default().push(value);
            }
        }
        report.scale = Some(scale);
        Ok(())
    }

    fn codec(&self, report: &mut Report) -> Result<()> {
        self.build(&["codec"])?;
        let sizes = run_lines(&mut Command::new(self.binary("codec")))?;
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.args(["bench", "--manifest-path"])
            .arg(self.dir.join("Cargo.toml"))
            .args([
                "-p",
                "codec",
                "--bench",
                "codec",
                "--",
                "--warm-up-time",
                "1",
            ])
            .args(["--measurement-time", &self.plan.criterion_secs.to_string()])
            .args(["--noplot"]);
        eprintln!("bench: criterion");
        if !cmd.status().context("cannot run cargo bench")?.success() {
            bail!("cargo bench -p codec failed");
        }
        let mut codec = Codec::default();
        for (key, size) in sizes {
            let Some(name) = key.strip_prefix("size_") else {
                continue;
            };
            let mut times = [f64::NAN; 2];
            for (i, op) in ["encode", "decode"].iter().enumerate() {
                let file = self
                    .dir
                    .join("target/criterion")
                    .join(format!("{op}_{name}"))
                    .join("new/estimates.json");
                times[i] = criterion_median(&file)?;
            }
            codec.rows.push((name.to_owned(), size, times[0], times[1]));
        }
        report.codec = Some(codec);
        Ok(())
    }
}

const WRK_SCRIPT: &str = r#"-- Cycles through the seeded sessions' cookies, one per request. The requests are
-- formatted once per thread in init (after wrk has set the Host header), so the load
-- generator spends its time sending, not formatting.
local requests = {}
local i = 0
init = function(args)
  local path = os.getenv("BENCH_PATH")
  for line in io.lines(os.getenv("BENCH_COOKIES")) do
    if #line > 0 then
      requests[#requests + 1] = wrk.format("GET", path, { ["Cookie"] = line })
    end
  end
end
request = function()
  i = i % #requests + 1
  return requests[i]
end
"#;

/// A child process killed when dropped.
struct Server {
    child: Child,
    name: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Err(e) = self.child.kill() {
            eprintln!("bench: cannot stop {}: {e}", self.name);
        }
        let _ = self.child.wait();
    }
}

/// CPU time a process has used so far, all threads, in ns (`/proc/<pid>/task/*/schedstat`).
fn cpu_ns(pid: u32) -> Result<u64> {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let stat = std::fs::read_to_string(task?.path().join("schedstat"))?;
        total += stat
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Ok(total)
}

fn wait_for_port(port: u16, limit: Duration) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("nothing listens on 127.0.0.1:{port} after {limit:?}")
}

/// One wrk result.
#[derive(Debug, Clone, Copy)]
struct Wrk {
    rps: f64,
    /// Server CPU time per request, µs (NaN when unknown).
    cpu_us: f64,
    requests: u64,
    errors: u64,
}

impl Wrk {
    fn parse(text: &str) -> Result<Self> {
        let mut rps = None;
        let mut requests = None;
        let mut errors = 0;
        for line in text.lines().map(str::trim) {
            if let Some(v) = line.strip_prefix("Requests/sec:") {
                rps = v.trim().parse().ok();
            } else if line.contains("requests in") {
                requests = line.split_whitespace().next().and_then(|n| n.parse().ok());
            } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
                errors += v.trim().parse::<u64>().unwrap_or(0);
            } else if let Some(v) = line.strip_prefix("Socket errors:") {
                // "connect 0, read 0, write 0, timeout 0"
                errors += v
                    .split(',')
                    .filter_map(|p| p.split_whitespace().nth(1)?.parse::<u64>().ok())
                    .sum::<u64>();
            }
        }
        match (rps, requests) {
            (Some(rps), Some(requests)) => Ok(Wrk {
                rps,
                cpu_us: f64::NAN,
                requests,
                errors,
            }),
            _ => bail!("cannot read wrk output:\n{text}"),
        }
    }
}

/// A minimal HTTP/1.1 GET over a fresh connection: (status, `Set-Cookie` pairs, body).
fn http_get(port: u16, path: &str, cookie: Option<&str>) -> Result<(u16, Vec<String>, String)> {
    let stream = TcpStream::connect(("127.0.0.1", port))?;
    let mut conn = Conn::new(stream)?;
    conn.get(path, cookie)
}

struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    fn new(stream: TcpStream) -> Result<Self> {
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
        })
    }

    fn get(&mut self, path: &str, cookie: Option<&str>) -> Result<(u16, Vec<String>, String)> {
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        if let Some(cookie) = cookie {
            let _ = write!(request, "Cookie: {cookie}\r\n");
        }
        request.push_str("\r\n");
        self.writer.write_all(request.as_bytes())?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line {line:?}"))?;
        let mut length = 0usize;
        let mut chunked = false;
        let mut cookies = Vec::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse()?,
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "set-cookie" => {
                    cookies.push(value.split(';').next().unwrap_or_default().to_owned());
                }
                _ => {}
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.reader.read_line(&mut line)?;
                let size = usize::from_str_radix(line.trim(), 16)?;
                let mut chunk = vec![0; size + 2];
                self.reader.read_exact(&mut chunk)?;
                chunk.truncate(size);
                body.extend_from_slice(&chunk);
                if size == 0 {
                    break;
                }
            }
        } else {
            body.resize(length, 0);
            self.reader.read_exact(&mut body)?;
        }
        Ok((status, cookies, String::from_utf8_lossy(&body).into_owned()))
    }
}

/// Creates `n` sessions with cookie-less `GET /write` requests over a few keep-alive
/// connections and returns their `name=value` cookies.
fn seed_sessions(port: u16, n: usize) -> Result<Vec<String>> {
    const CONNECTIONS: usize = 8;
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|w| {
            let count = n / CONNECTIONS + usize::from(w < n % CONNECTIONS);
            std::thread::spawn(move || -> Result<Vec<String>> {
                let mut conn = Conn::new(TcpStream::connect(("127.0.0.1", port))?)?;
                let mut cookies = Vec::with_capacity(count);
                for _ in 0..count {
                    let (status, set, body) = conn.get("/write", None)?;
                    if status != 200 {
                        bail!("port {port}: seeding /write answered {status}: {body}");
                    }
                    let cookie = set.into_iter().next().with_context(|| {
                        format!("port {port}: /write without a cookie set no cookie")
                    })?;
                    cookies.push(cookie);
                }
                Ok(cookies)
            })
        })
        .collect();
    let mut cookies = Vec::with_capacity(n);
    for worker in workers {
        let part = worker
            .join()
            .map_err(|_| anyhow::anyhow!("a seeding thread panicked"))??;
        cookies.extend(part);
    }
    Ok(cookies)
}

/// Command counts by name, over one measured run.
#[derive(Debug, Clone, Default)]
struct Counts(BTreeMap<String, u64>);

impl Counts {
    fn per_request(&self, requests: u64) -> PerRequest {
        let requests = requests.max(1) as f64;
        PerRequest(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), *v as f64 / requests))
                .collect(),
        )
    }
}

/// Commands (or round trips) per request, by name.
#[derive(Debug, Clone, Default)]
struct PerRequest(BTreeMap<String, f64>);

impl PerRequest {
    fn total(&self) -> f64 {
        // An empty float sum is -0.0; add +0.0 so nothing prints "-0.00".
        self.0.values().sum::<f64>() + 0.0
    }

    fn breakdown(&self) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .filter(|(_, v)| **v >= 0.005)
            .map(|(k, v)| format!("{k} {v:.2}"))
            .collect();
        if parts.is_empty() {
            "–".into()
        } else {
            parts.join(", ")
        }
    }
}

fn redis_cli(args: &[&str]) -> Result<String> {
    let out = Command::new("redis-cli")
        .args(["-p", &REDIS_PORT.to_string()])
        .args(args)
        .output()
        .context("cannot run redis-cli")?;
    if !out.status.success() {
        bail!("redis-cli {} failed", args.join(" "));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `INFO commandstats` as counts, without the bench's own CONFIG and INFO calls.
fn redis_commandstats() -> Result<Counts> {
    let text = redis_cli(&["INFO", "commandstats"])?;
    let mut counts = BTreeMap::new();
    for line in text.lines() {
        let Some((name, rest)) = line.trim().split_once(':') else {
            continue;
        };
        let Some(name) = name.strip_prefix("cmdstat_") else {
            continue;
        };
        if name == "config" || name == "info" {
            continue;
        }
        let calls = rest
            .split(',')
            .find_map(|kv| kv.strip_prefix("calls="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        counts.insert(name.to_owned(), calls);
    }
    Ok(Counts(counts))
}

#[derive(Debug, Clone, Copy)]
enum Db {
    Postgres,
    Mysql,
}

impl Db {
    fn name(self) -> &'static str {
        match self {
            Db::Postgres => "postgres",
            Db::Mysql => "mysql",
        }
    }

    fn package(self) -> &'static str {
        match self {
            Db::Postgres => "srv-postgres",
            Db::Mysql => "srv-mysql",
        }
    }

    fn port(self) -> u16 {
        match self {
            Db::Postgres => 5432,
            Db::Mysql => 3306,
        }
    }

    /// (direct server, counted server, proxy)
    fn ports(self) -> (u16, u16, u16) {
        match self {
            Db::Postgres => (18121, 18122, 18123),
            Db::Mysql => (18131, 18132, 18133),
        }
    }

    fn config(self, port: u16) -> String {
        match self {
            Db::Postgres => format!(
                "host=127.0.0.1 port={port} user=postgres dbname={BENCH_DB} sslmode=disable table=bench_sessions"
            ),
            Db::Mysql => format!("root@tcp(127.0.0.1:{port})/{BENCH_DB}?table=bench_sessions"),
        }
    }

    fn create_database(self) -> Result<()> {
        let status = match self {
            Db::Postgres => {
                let exists = Command::new("psql")
                    .args([
                        "-h",
                        "127.0.0.1",
                        "-U",
                        "postgres",
                        "-d",
                        "postgres",
                        "-Atc",
                    ])
                    .arg(format!(
                        "SELECT 1 FROM pg_database WHERE datname = '{BENCH_DB}'"
                    ))
                    .output()
                    .context("cannot run psql")?;
                if String::from_utf8_lossy(&exists.stdout).trim() == "1" {
                    return Ok(());
                }
                Command::new("psql")
                    .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c"])
                    .arg(format!("CREATE DATABASE {BENCH_DB}"))
                    .stdout(Stdio::null())
                    .status()
            }
            Db::Mysql => Command::new("mysql")
                .args(["-h127.0.0.1", "-uroot", "-e"])
                .arg(format!("CREATE DATABASE IF NOT EXISTS {BENCH_DB}"))
                .status(),
        }
        .with_context(|| format!("cannot reach {} with its command-line client", self.name()))?;
        if !status.success() {
            bail!("cannot create database {BENCH_DB} on {}", self.name());
        }
        Ok(())
    }
}

/// A TCP proxy in front of a database that counts the client's round trips by protocol
/// message: PostgreSQL `Sync` and `Query` messages (one answer each), MySQL command packets
/// (sequence id 0) other than `COM_STMT_CLOSE` and `COM_QUIT`, which get no answer.
struct Proxy {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    fn start(port: u16, upstream: u16, db: Db) -> Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .with_context(|| format!("proxy cannot listen on {port}"))?;
        listener.set_nonblocking(true)?;
        let counts = Arc::new(Mutex::new(BTreeMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (counts.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let counts = c.clone();
                        std::thread::spawn(move || {
                            if let Err(e) = proxy_connection(client, upstream, db, &counts) {
                                eprintln!("bench: proxy connection ended: {e}");
                            }
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Ok(Proxy { counts, stop })
    }

    fn reset(&self) {
        if let Ok(mut c) = self.counts.lock() {
            c.clear();
        }
    }

    fn take(&self) -> Counts {
        Counts(
            self.counts
                .lock()
                .map(|mut c| std::mem::take(&mut *c))
                .unwrap_or_default(),
        )
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn proxy_connection(
    client: TcpStream,
    upstream: u16,
    db: Db,
    counts: &Mutex<BTreeMap<String, u64>>,
) -> Result<()> {
    client.set_nonblocking(false)?;
    client.set_nodelay(true)?;
    let server = TcpStream::connect(("127.0.0.1", upstream))?;
    server.set_nodelay(true)?;
    let (mut from_server, mut to_client) = (server.try_clone()?, client.try_clone()?);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_server, &mut to_client);
        let _ = to_client.shutdown(std::net::Shutdown::Both);
    });
    let (mut from_client, mut to_server) = (client, server);
    let mut parser = Parser::new(db);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = from_client.read(&mut buf)?;
        if n == 0 {
            let _ = to_server.shutdown(std::net::Shutdown::Both);
            return Ok(());
        }
        let seen = parser.feed(&buf[..n]);
        if !seen.is_empty()
            && let Ok(mut c) = counts.lock()
        {
            for name in seen {
                *c.entry(name).or_default() += 1;
            }
        }
        to_server.write_all(&buf[..n])?;
    }
}

/// Splits the client's byte stream into protocol messages.
struct Parser {
    db: Db,
    buf: Vec<u8>,
    /// PostgreSQL: the next message is an untyped startup (or SSL/GSS request) message.
    startup: bool,
}

impl Parser {
    fn new(db: Db) -> Self {
        Parser {
            db,
            buf: Vec::new(),
            startup: true,
        }
    }

    /// Adds bytes; returns the names of the complete round-trip messages among them.
    fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        self.buf.extend_from_slice(bytes);
        let mut seen = Vec::new();
        let mut at = 0;
        loop {
            let rest = &self.buf[at..];
            match self.db {
                Db::Postgres if self.startup => {
                    let Some(len) = rest.get(..4).map(|b| be32(b) as usize) else {
                        break;
                    };
                    if rest.len() < len || len < 8 {
                        break;
                    }
                    let code = be32(&rest[4..8]);
                    // SSLRequest / GSSENCRequest: the real startup message follows.
                    self.startup = code == 80_877_103 || code == 80_877_104;
                    at += len;
                }
                Db::Postgres => {
                    if rest.len() < 5 {
                        break;
                    }
                    let len = be32(&rest[1..5]) as usize + 1;
                    if rest.len() < len {
                        break;
                    }
                    match rest[0] {
                        b'S' => seen.push("Sync".to_owned()),
                        b'Q' => seen.push("Query".to_owned()),
                        _ => {}
                    }
                    at += len;
                }
                Db::Mysql => {
                    if rest.len() < 4 {
                        break;
                    }
                    let len = usize::from(rest[0])
                        | usize::from(rest[1]) << 8
                        | usize::from(rest[2]) << 16;
                    if rest.len() < 4 + len {
                        break;
                    }
                    if rest[3] == 0
                        && let Some(&cmd) = rest.get(4)
                    {
                        let name = match cmd {
                            0x01 | 0x19 => None,
                            0x03 => Some("COM_QUERY".to_owned()),
                            0x16 => Some("COM_STMT_PREPARE".to_owned()),
                            0x17 => Some("COM_STMT_EXECUTE".to_owned()),
                            0x0e => Some("COM_PING".to_owned()),
                            0x1a => Some("COM_STMT_RESET".to_owned()),
                            other => Some(format!("COM_0x{other:02x}")),
                        };
                        seen.extend(name);
                    }
                    at += 4 + len;
                }
            }
        }
        self.buf.drain(..at);
        seen
    }
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Runs a command that prints `name value` lines; returns them (values parsed as numbers).
fn run_lines(cmd: &mut Command) -> Result<Vec<(String, f64)>> {
    eprintln!("bench: running {cmd:?}");
    let out = cmd.stderr(Stdio::inherit()).output()?;
    if !out.status.success() {
        bail!("{cmd:?} failed");
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_owned(), v.trim().parse().ok()?))
        })
        .collect())
}

/// The median estimate (ns) from a criterion `estimates.json`.
fn criterion_median(path: &Path) -> Result<f64> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let median = text
        .find("\"median\"")
        .context("no median in criterion estimates")?;
    let rest = &text[median..];
    let at = rest
        .find("\"point_estimate\":")
        .context("no point_estimate")?;
    let number: String = rest[at + 17..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        .collect();
    Ok(number.parse()?)
}

fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let ram = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or_else(
            || "unknown".into(),
            |kb| format!("{:.1} GiB", kb / 1048576.0),
        );
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into());
    let tool = |cmd: &str, arg: &str| {
        Command::new(cmd)
            .arg(arg)
            .output()
            .ok()
            .map(|o| {
                let text = String::from_utf8_lossy(&o.stdout).into_owned()
                    + &String::from_utf8_lossy(&o.stderr);
                text.lines().next().unwrap_or_default().trim().to_owned()
            })
            .unwrap_or_default()
    };
    format!(
        "- nproc: {cores}\n- CPU: {cpu}\n- RAM: {ram}\n- kernel: {kernel}\n- {}\n- {}\n- {}\n",
        tool("rustc", "--version"),
        tool("wrk", "--version"),
        tool("redis-server", "--version"),
    )
}

/// The HTTP figures of one section: medians by (contender, handler).
#[derive(Debug, Default)]
struct Http {
    rps: BTreeMap<(String, String), f64>,
    /// Median server CPU µs per request.
    cpu: BTreeMap<(String, String), f64>,
    runs: BTreeMap<(String, String), Vec<f64>>,
    errors: BTreeMap<(String, String), u64>,
    /// Redis: commands per request, the median run's breakdown.
    commands: BTreeMap<(String, String), PerRequest>,
    /// Redis: client round trips per request (commands sent, not run by scripts).
    trips: BTreeMap<(String, String), PerRequest>,
    contenders: Vec<String>,
}

impl Http {
    fn from_runs(runs: BTreeMap<(String, String), Vec<Wrk>>) -> Self {
        let mut http = Http::default();
        for (key, list) in runs {
            if !http.contenders.contains(&key.0) {
                http.contenders.push(key.0.clone());
            }
            let values: Vec<f64> = list.iter().map(|w| w.rps).collect();
            let cpu: Vec<f64> = list.iter().map(|w| w.cpu_us).collect();
            http.cpu.insert(key.clone(), median(&cpu));
            http.rps.insert(key.clone(), median(&values));
            http.errors
                .insert(key.clone(), list.iter().map(|w| w.errors).sum());
            http.runs.insert(key, values);
        }
        http
    }

    fn with_commands(mut self, commands: BTreeMap<(String, String), Vec<PerRequest>>) -> Self {
        for (key, list) in commands {
            let mut list = list;
            list.sort_by(|a, b| a.total().total_cmp(&b.total()));
            if let Some(mid) = list.get(list.len() / 2) {
                self.commands.insert(key, mid.clone());
            }
        }
        self
    }

    fn get(&self, contender: &str, handler: &str) -> f64 {
        self.rps
            .get(&(contender.to_owned(), handler.to_owned()))
            .copied()
            .unwrap_or(f64::NAN)
    }

    fn table(&self, out: &mut String, baseline: Option<&str>) {
        let _ = write!(out, "| handler |");
        for c in &self.contenders {
            let _ = write!(out, " {c} req/s |");
        }
        if let Some(base) = baseline {
            for c in self.contenders.iter().filter(|c| *c != base) {
                let _ = write!(out, " {c} overhead µs/req |");
            }
        }
        out.push('\n');
        let cols =
            self.contenders.len() + baseline.map_or(0, |_| self.contenders.len().saturating_sub(1));
        let _ = writeln!(out, "|---|{}", "---:|".repeat(cols));
        for h in HANDLERS {
            let _ = write!(out, "| {h} |");
            for c in &self.contenders {
                let errors = self
                    .errors
                    .get(&(c.clone(), h.to_owned()))
                    .copied()
                    .unwrap_or(0);
                let flag = if errors > 0 {
                    format!(" ({errors} errors)")
                } else {
                    String::new()
                };
                let _ = write!(out, " {:.0}{flag} |", self.get(c, h));
            }
            if let Some(base) = baseline {
                for c in self.contenders.iter().filter(|c| *c != base) {
                    let _ = write!(out, " {:.2} |", self.overhead_us(c, base, h));
                }
            }
            out.push('\n');
        }
        out.push_str("\nServer CPU time per request (µs, median; all server threads, from `/proc/<pid>/task/*/schedstat`), less sensitive to other load on the machine than req/s:\n\n| handler |");
        for c in &self.contenders {
            let _ = write!(out, " {c} |");
        }
        if let Some(base) = baseline {
            for c in self.contenders.iter().filter(|c| *c != base) {
                let _ = write!(out, " {c} CPU overhead |");
            }
        }
        out.push('\n');
        let _ = writeln!(out, "|---|{}", "---:|".repeat(cols));
        for h in HANDLERS {
            let _ = write!(out, "| {h} |");
            for c in &self.contenders {
                let _ = write!(out, " {:.2} |", self.cpu(c, h));
            }
            if let Some(base) = baseline {
                for c in self.contenders.iter().filter(|c| *c != base) {
                    let _ = write!(out, " {:.2} |", self.cpu_overhead_us(c, base, h));
                }
            }
            out.push('\n');
        }
        out.push_str("\nAll runs (req/s), in order:\n\n");
        for ((c, h), runs) in &self.runs {
            let list: Vec<String> = runs.iter().map(|r| format!("{r:.0}")).collect();
            let _ = writeln!(out, "- {c} /{h}: {}", list.join(", "));
        }
        out.push('\n');
    }

    fn cpu(&self, contender: &str, handler: &str) -> f64 {
        self.cpu
            .get(&(contender.to_owned(), handler.to_owned()))
            .copied()
            .unwrap_or(f64::NAN)
    }

    /// Server CPU per request minus the baseline's, in µs.
    fn cpu_overhead_us(&self, contender: &str, base: &str, handler: &str) -> f64 {
        self.cpu(contender, handler) - self.cpu(base, handler)
    }

    /// Time per request minus the baseline's, in µs.
    fn overhead_us(&self, contender: &str, base: &str, handler: &str) -> f64 {
        (1.0 / self.get(contender, handler) - 1.0 / self.get(base, handler)) * 1e6
    }
}

#[derive(Debug, Default)]
struct Sql {
    dbs: Vec<(String, Http, BTreeMap<String, PerRequest>)>,
}

#[derive(Debug, Default)]
struct Scale {
    ours: BTreeMap<String, Vec<f64>>,
    ts: BTreeMap<String, Vec<f64>>,
}

impl Scale {
    fn ours(&self, key: &str) -> f64 {
        self.ours.get(key).map_or(f64::NAN, |v| median(v))
    }
    fn ts(&self, key: &str) -> f64 {
        self.ts.get(key).map_or(f64::NAN, |v| median(v))
    }
}

#[derive(Debug, Default)]
struct Codec {
    /// (format, bytes, encode ns, decode ns)
    rows: Vec<(String, f64, f64, f64)>,
}

#[derive(Debug, Default)]
struct Report {
    memory: Option<Http>,
    redis: Option<Http>,
    sql: Option<Sql>,
    scale: Option<Scale>,
    codec: Option<Codec>,
    failures: Vec<String>,
    /// Wall time per section, builds included.
    timings: Vec<(String, Duration)>,
}

/// Our overhead against at most half the anchor's; when the anchor's overhead is not
/// positive, the run was too noisy to tell.
fn overhead_verdict(ours: f64, anchor: f64) -> &'static str {
    if anchor.is_nan() || anchor <= 0.0 || !ours.is_finite() {
        "inconclusive (anchor overhead not above noise)"
    } else {
        verdict(ours <= 0.5 * anchor)
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "**met**" } else { "**missed**" }
}

impl Report {
    fn markdown(
        &self,
        plan: &Plan,
        load_before: &str,
        load_after: &str,
        took: Duration,
        only: &[String],
    ) -> String {
        let mut out = String::new();
        let command = if plan.quick {
            "cargo xtask bench --quick"
        } else {
            "cargo xtask bench"
        };
        let _ = writeln!(out, "# Benchmarks\n");
        let _ = writeln!(
            out,
            "Generated by `{command}`{} in {:.0} s. Re-run it to reproduce; `--quick` (under 5 minutes) gives the headline figures with fewer, shorter runs. \
             Absolute numbers depend on the machine; compare the **ratios**.\n",
            if only.len() < SECTIONS.len() {
                format!(" (sections: {})", only.join(", "))
            } else {
                String::new()
            },
            took.as_secs_f64()
        );
        let timings: Vec<String> = self
            .timings
            .iter()
            .map(|(s, d)| format!("{s} {:.0} s", d.as_secs_f64()))
            .collect();
        let _ = writeln!(
            out,
            "Time per section (its build included): {}.\n",
            timings.join(", ")
        );
        let _ = writeln!(
            out,
            "## Machine\n\n{}- load average (1, 5, 15 min) before: {load_before}; after: {load_after}\n",
            machine()
        );
        let _ = writeln!(
            out,
            "## Method\n\n\
             - Every server is a release binary of the `bench/` workspace, started as a child process on one core (`taskset -c 0`, one runtime thread / one actix worker). \
             `wrk` (1 thread, {CONNECTIONS} connections) runs on the other core over loopback; databases and the private redis-server share that core.\n\
             - Before a run, {SESSIONS} sessions are created through `GET /write` without a cookie; the wrk Lua script cycles through their cookies, one per request.\n\
             - Handlers: `/untouched` never looks at the session, `/read` reads one integer key, `/write` stores one integer key.\n\
             - Each figure is the median of {} runs of {} s (full run: after a 1 s warm-up); contenders take turns within each round.\n\
             - Overhead = time per request − the no-session baseline's time per request, from two measures: wall time (1 / req/s) and the server's CPU time per request (`/proc/<pid>/task/*/schedstat` before and after each run, over wrk's request count). \
             On this 2-core machine wrk and other processes share the cores, so req/s moves with outside load, and a server that is not saturated shows the load generator's limit; CPU time per request is the steadier figure and the one the memory targets are judged on first.\n",
            plan.runs, plan.secs
        );
        self.targets(&mut out);
        if let Some(m) = &self.memory {
            out.push_str("## HTTP, memory\n\nOur axum layer + memory provider (`ours`), tower-sessions 0.15 + `MemoryStore` (`ts-0.15`), and the same app without a session layer (`none`).\n\n");
            m.table(&mut out, Some("none"));
            for h in ["read", "write"] {
                let ours = m.overhead_us("ours", "none", h);
                let ts = m.overhead_us("ts-0.15", "none", h);
                let _ = writeln!(
                    out,
                    "- /{h}: our overhead is {:.2}x tower-sessions' ({ours:.2} µs vs {ts:.2} µs).",
                    ours / ts
                );
            }
            let _ = writeln!(
                out,
                "- /untouched: ours serves {:.3}x the no-layer rate; tower-sessions {:.3}x.\n",
                m.get("ours", "untouched") / m.get("none", "untouched"),
                m.get("ts-0.15", "untouched") / m.get("none", "untouched"),
            );
        }
        if let Some(r) = &self.redis {
            out.push_str("## HTTP, Redis\n\nOur redis provider behind our axum adapter (`ours`) and behind our actix-web adapter (`ours-actix`); tower-sessions 0.14 + tower-sessions-redis-store 0.16 (fred, axum, `ts-0.14`); actix-web + actix-session 0.11 `RedisSessionStore` (`actix-0.11`); and each framework without a session layer (`none-axum`, `none-actix`). \
                A private `redis-server` on port 6390 (core 1, with wrk).\n\n");
            r.table(&mut out, None);
            let _ = write!(
                out,
                "Commands per request as Redis counts them (`INFO commandstats`: a script call counts once for `EVALSHA` and once per command the script runs), and round trips per request (commands the client sent, from `MONITOR` during an extra {} s run):\n\n\
                | handler | contender | commands/request | by command | round trips/request | by command |\n|---|---|---:|---|---:|---|\n",
                plan.count_secs
            );
            for h in HANDLERS {
                for c in &r.contenders {
                    let key = (c.clone(), h.to_owned());
                    let per = r.commands.get(&key).cloned().unwrap_or_default();
                    let trips = r.trips.get(&key).cloned().unwrap_or_default();
                    let _ = writeln!(
                        out,
                        "| {h} | {c} | {:.2} | {} | {:.2} | {} |",
                        per.total(),
                        per.breakdown(),
                        trips.total(),
                        trips.breakdown()
                    );
                }
            }
            out.push_str("\nSame framework, same handler (req/s ratio; overhead = µs per request over that framework's no-session baseline):\n\n\
                | handler | ours / ts-0.14 (axum) | ours-actix / actix-0.11 (actix-web) | ours overhead µs | ts-0.14 overhead µs | ours-actix overhead µs | actix-0.11 overhead µs |\n|---|---:|---:|---:|---:|---:|---:|\n");
            for h in HANDLERS {
                let _ = writeln!(
                    out,
                    "| {h} | {:.2}x | {:.2}x | {:.2} | {:.2} | {:.2} | {:.2} |",
                    r.get("ours", h) / r.get("ts-0.14", h),
                    r.get("ours-actix", h) / r.get("actix-0.11", h),
                    r.overhead_us("ours", "none-axum", h),
                    r.overhead_us("ts-0.14", "none-axum", h),
                    r.overhead_us("ours-actix", "none-actix", h),
                    r.overhead_us("actix-0.11", "none-actix", h),
                );
            }
            out.push('\n');
        }
        if let Some(sql) = &self.sql {
            let _ = write!(
                out,
                "## SQL\n\nOur providers on the local servers (database `session_bench`, table `bench_sessions`, default pool). \
                Round trips are counted by a proxy between a second server instance and the database that parses the wire protocol \
                (PostgreSQL: `Sync` + `Query` messages; MySQL: command packets that get an answer), over an extra {} s wrk run per handler; the req/s figures come from a server connected directly.\n\n",
                plan.count_secs
            );
            for (db, http, trips) in &sql.dbs {
                let _ = writeln!(out, "### {db}\n");
                http.table(&mut out, None);
                out.push_str("| handler | round trips/request | by message |\n|---|---:|---|\n");
                for h in HANDLERS {
                    if let Some(per) = trips.get(h) {
                        let _ = writeln!(out, "| {h} | {:.2} | {} |", per.total(), per.breakdown());
                    }
                }
                out.push('\n');
            }
        }
        if let Some(s) = &self.scale {
            let _ = writeln!(
                out,
                "## Memory provider at scale\n\n{} sessions, each holding one 100-byte string, created through the public API in a fresh process. \
                 Bytes per session = (RSS after − RSS before) / sessions from `/proc/self/statm`. GC: one pass removing half of them (expired by a mock clock). \
                 Latency: `Manager::load` + `get` + `commit` on 10,000 live sessions in a loop, without GC (2 s) and while the GC pass runs on another worker thread \
                 (tokio, 2 workers). Medians over {} process(es) x {} GC round(s).\n",
                plan.scale_sessions, plan.scale_processes, plan.scale_rounds
            );
            out.push_str("| figure | ours (memory provider) | tower-sessions 0.15 MemoryStore |\n|---|---:|---:|\n");
            let _ = writeln!(
                out,
                "| bytes per session (RSS) | {:.0} | {:.0} |",
                s.ours("bytes_per_session"),
                s.ts("bytes_per_session")
            );
            let _ = writeln!(
                out,
                "| GC pass removing half (ms) | {:.1} | no GC (entries are never removed) |",
                s.ours("gc_ms")
            );
            let _ = writeln!(
                out,
                "| latency p50 without GC (µs) | {:.2} | – |",
                s.ours("p50_us")
            );
            let _ = writeln!(
                out,
                "| latency p99 without GC (µs) | {:.2} | – |",
                s.ours("p99_us")
            );
            let _ = writeln!(
                out,
                "| latency p50 during GC (µs) | {:.2} | – |",
                s.ours("gc_p50_us")
            );
            let _ = writeln!(
                out,
                "| latency p99 during GC (µs) | {:.2} | – |",
                s.ours("gc_p99_us")
            );
            let _ = writeln!(
                out,
                "| requests measured during one GC pass | {:.0} | – |\n",
                s.ours("gc_samples")
            );
            out.push_str("All values:\n\n");
            for (who, map) in [("ours", &s.ours), ("ts", &s.ts)] {
                for (k, v) in map {
                    let list: Vec<String> = v.iter().map(|x| format!("{x:.2}")).collect();
                    let _ = writeln!(out, "- {who} {k}: {}", list.join(", "));
                }
            }
            out.push('\n');
        }
        if let Some(c) = &self.codec {
            out.push_str("## Codec\n\nCriterion (median), a 10-key session (integers, strings, a list of strings, a list of integers, a bool, a nested struct). \
                Encode: typed values to the bytes a store writes; decode: bytes to all ten typed values.\n\n\
                | format | bytes | encode ns | decode ns | encode vs ours | decode vs ours |\n|---|---:|---:|---:|---:|---:|\n");
            let ours = c.rows.first().map_or((f64::NAN, f64::NAN), |r| (r.2, r.3));
            for (name, size, enc, dec) in &c.rows {
                let _ = writeln!(
                    out,
                    "| {name} | {size:.0} | {enc:.0} | {dec:.0} | {:.2}x | {:.2}x |",
                    enc / ours.0,
                    dec / ours.1
                );
            }
            out.push_str("\n`ours_rmp_per_value` is session-core's format (`record.rs`). `postcard_per_value` has the same layout but is not self-describing (a `serde_json::Value` could not be stored); `serde_json_value` is actix-session's style; `tower_sessions_rmp_json_value` is tower-sessions' (rmp-serde of the whole record with `serde_json::Value`s).\n\n");
        }
        if !self.failures.is_empty() {
            out.push_str("## Sections that did not run\n\n");
            for f in &self.failures {
                let _ = writeln!(out, "- {}", f.replace('\n', " "));
            }
            out.push('\n');
        }
        let notes = workspace_root().join("bench/NOTES.md");
        if let Ok(text) = std::fs::read_to_string(notes) {
            out.push_str(&text);
        }
        out
    }

    fn targets(&self, out: &mut String) {
        out.push_str("## Targets\n\n| target | measured | verdict |\n|---|---|---|\n");
        if let Some(m) = &self.memory {
            for h in ["read", "write"] {
                let ours = m.overhead_us("ours", "none", h);
                let ts = m.overhead_us("ts-0.15", "none", h);
                let _ = writeln!(
                    out,
                    "| memory /{h}: overhead ≤ 0.5x tower-sessions' (wall time from req/s) | {ours:.2} µs vs {ts:.2} µs = {:.2}x | {} |",
                    ours / ts,
                    overhead_verdict(ours, ts)
                );
                let ours = m.cpu_overhead_us("ours", "none", h);
                let ts = m.cpu_overhead_us("ts-0.15", "none", h);
                let _ = writeln!(
                    out,
                    "| memory /{h}: overhead ≤ 0.5x tower-sessions' (server CPU per request) | {ours:.2} µs vs {ts:.2} µs = {:.2}x | {} |",
                    ours / ts,
                    overhead_verdict(ours, ts)
                );
            }
            let cpu = m.cpu("ours", "untouched") / m.cpu("none", "untouched");
            let _ = writeln!(
                out,
                "| memory /untouched within 5% of no layer (server CPU per request) | {cpu:.3}x the no-layer CPU | {} |",
                verdict(cpu <= 1.05)
            );
            let ratio = m.get("ours", "untouched") / m.get("none", "untouched");
            let _ = writeln!(
                out,
                "| memory /untouched within 5% of no layer | {ratio:.3}x the no-layer rate | {} |",
                verdict(ratio >= 0.95)
            );
        }
        if let Some(r) = &self.redis {
            for (h, limit) in [("untouched", 0.0), ("read", 1.0), ("write", 2.0)] {
                let cmds = |c: &str| {
                    r.commands
                        .get(&(c.to_owned(), h.to_owned()))
                        .map_or(f64::NAN, PerRequest::total)
                };
                let ours = cmds("ours");
                let best = cmds("ts-0.14").min(cmds("actix-0.11"));
                let _ = writeln!(
                    out,
                    "| redis /{h}: commands/request ≤ best anchor and ≤ {limit} | ours {ours:.2}, best anchor {best:.2} | {} |",
                    verdict(ours <= best + 0.01 && ours <= limit + 0.01)
                );
                let trips = |c: &str| {
                    r.trips
                        .get(&(c.to_owned(), h.to_owned()))
                        .map_or(f64::NAN, PerRequest::total)
                };
                let ours = trips("ours");
                let best = trips("ts-0.14").min(trips("actix-0.11"));
                let _ = writeln!(
                    out,
                    "| redis /{h}: round trips/request ≤ best anchor and ≤ {limit} (supplementary) | ours {ours:.2}, best anchor {best:.2} | {} |",
                    verdict(ours <= best + 0.01 && ours <= limit + 0.01)
                );
            }
            for h in HANDLERS {
                let best = r.get("ts-0.14", h).max(r.get("actix-0.11", h));
                let ours = r.get("ours", h).max(r.get("ours-actix", h));
                let ratio = ours / best;
                let _ = writeln!(
                    out,
                    "| redis /{h}: req/s ≥ 1.1x the faster anchor (our faster adapter vs the faster anchor, any framework) | {ratio:.2}x | {} |",
                    verdict(ratio >= 1.1)
                );
                let axum = r.get("ours", h) / r.get("ts-0.14", h);
                let actix = r.get("ours-actix", h) / r.get("actix-0.11", h);
                let _ = writeln!(
                    out,
                    "| redis /{h}: req/s ≥ 1.1x the anchor on the same framework | axum {axum:.2}x, actix-web {actix:.2}x | {} |",
                    verdict(axum >= 1.1 && actix >= 1.1)
                );
            }
        }
        if let Some(s) = &self.scale {
            let (p99, gc99) = (s.ours("p99_us"), s.ours("gc_p99_us"));
            let _ = writeln!(
                out,
                "| scale: p99 during GC ≤ 2x p99 without | {gc99:.2} µs vs {p99:.2} µs = {:.2}x | {} |",
                gc99 / p99,
                verdict(gc99 <= 2.0 * p99)
            );
            let (ours, ts) = (s.ours("bytes_per_session"), s.ts("bytes_per_session"));
            let _ = writeln!(
                out,
                "| scale: bytes/session ≤ tower-sessions MemoryStore | {ours:.0} vs {ts:.0} | {} |",
                verdict(ours <= ts)
            );
        }
        out.push('\n');
    }
}
