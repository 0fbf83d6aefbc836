//! The SQL section: our postgres and mysql providers against tower-sessions-sqlx-store on the
//! same databases: requests per second, server and database CPU per request, and round trips
//! per request (counted by [`Proxy`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use super::figures::{Http, cpu_ratio};
use super::plan::Plan;
use super::process::cpu_ns;
use super::proxy::Proxy;
use super::report::Report;
use super::stats::PerRequest;
use super::targets::verdict;
use super::{BENCH_DB, Bench, HANDLERS};

/// The two contenders on each database: ours, and tower-sessions 0.14 with
/// tower-sessions-sqlx-store 0.15 (`srv-sql-ts`).
const CONTENDERS: [&str; 2] = ["ours", "ts-0.14"];

/// Per database: its name and its figures (round trips in [`Http::trips`], the database's
/// CPU time in [`Http::backend_cpu`]).
#[derive(Debug, Default)]
pub(super) struct Sql {
    dbs: Vec<(String, Http)>,
}

impl Bench {
    pub(super) fn sql(&self, report: &mut Report) -> Result<()> {
        // One build for both databases: built one database at a time, the shared crates'
        // features would differ between the two builds and each would recompile them.
        self.build(&[Db::Postgres.package(), Db::Mysql.package(), "srv-sql-ts"])?;
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
        crate::services::ensure_ports(&[db.port()])?;
        db.create_database()?;
        let ports = db.ports();
        let proxy = Proxy::start(ports.proxy, db.port(), db)?;
        // Each contender twice: connected directly (req/s, CPU) and through the counting
        // proxy (round trips), so the proxy's extra hop never slows a timed run.
        let ours = |port: u16, db_port: u16| {
            self.server(db.package(), &[port.to_string(), db.config(db_port)], port)
        };
        let ts = |port: u16, db_port: u16| {
            let args = [
                db.name().to_owned(),
                port.to_string(),
                db.url(db_port),
                db.ts_schema().to_owned(),
            ];
            self.server("srv-sql-ts", &args, port)
        };
        let _ours = ours(ports.ours, db.port())?;
        let _ours_counted = ours(ports.ours_counted, ports.proxy)?;
        let _ts = ts(ports.ts, db.port())?;
        let _ts_counted = ts(ports.ts_counted, ports.proxy)?;
        let contenders = [
            (
                CONTENDERS[0],
                ports.ours,
                self.seed(ports.ours, &format!("{}-ours.cookies", db.name()))?,
            ),
            (
                CONTENDERS[1],
                ports.ts,
                self.seed(ports.ts, &format!("{}-ts.cookies", db.name()))?,
            ),
        ];
        let results = self.rounds(&contenders, |_, _, run| {
            let before = db.server_cpu_ns();
            let mut result = run()?;
            result.set_backend_cpu(cpu_used(&before, &db.server_cpu_ns()) as f64 / 1e3);
            Ok(result)
        })?;
        // Round trips: a short run per contender and handler through the counting proxy.
        // The sessions are the same rows the direct server seeded.
        let mut http = Http::from_runs(results);
        for ((name, _, cookies), counted) in contenders
            .iter()
            .zip([ports.ours_counted, ports.ts_counted])
        {
            for handler in HANDLERS {
                proxy.reset();
                let run = self.wrk(
                    counted,
                    &format!("/{handler}"),
                    cookies,
                    self.plan.count_secs,
                )?;
                let per = proxy.take().per_request(run.requests);
                http.trips
                    .insert(((*name).to_owned(), handler.to_owned()), per);
            }
        }
        out.dbs.push((db.name().to_owned(), http));
        Ok(())
    }
}

impl Sql {
    /// The report's SQL section.
    pub(super) fn markdown(&self, out: &mut String, plan: &Plan) {
        let _ = write!(
            out,
            "## SQL\n\nOur providers behind our axum adapter (`ours`: table `bench_sessions`) and tower-sessions 0.14 + tower-sessions-sqlx-store 0.15 (`ts-0.14`: its `PostgresStore` and `MySqlStore`, table `ts_sessions`, created by its `migrate()`), \
            on the local servers (database `session_bench`), each with its default pool (10 connections). \
            Round trips are counted by a proxy between a second instance of each server and the database that parses the wire protocol \
            (PostgreSQL: `Sync` + `Query` messages; MySQL: command packets that get an answer), over an extra {} s wrk run per handler; the req/s and CPU figures come from the instances connected directly. \
            Database CPU per request: PostgreSQL, the backend processes of database `session_bench` (`/proc/<pid>/task/*/schedstat`, before and after each run); \
            MariaDB, the whole server process, so other clients of the same server (other test suites on this machine) count in it.\n\n",
            plan.count_secs
        );
        for (db, http) in &self.dbs {
            let _ = writeln!(out, "### {db}\n");
            http.table(out, None);
            out.push_str("| handler | contender | round trips/request | by message | database CPU µs/request |\n|---|---|---:|---|---:|\n");
            for h in HANDLERS {
                for c in CONTENDERS {
                    let per = http
                        .trips
                        .get(&(c.to_owned(), h.to_owned()))
                        .cloned()
                        .unwrap_or_default();
                    let _ = writeln!(
                        out,
                        "| {h} | {c} | {:.2} | {} | {:.2} |",
                        per.total(),
                        per.breakdown(),
                        http.backend_cpu(c, h)
                    );
                }
            }
            out.push_str("\nOurs against tower-sessions-sqlx-store, same handler (ratios of the medians):\n\n\
                | handler | req/s ours / ts-0.14 | server CPU ours / ts-0.14 | database CPU ours / ts-0.14 |\n|---|---:|---:|---:|\n");
            for h in HANDLERS {
                let [ours, ts] = CONTENDERS;
                let _ = writeln!(
                    out,
                    "| {h} | {:.2}x | {:.2}x | {} |",
                    http.get(ours, h) / http.get(ts, h),
                    http.cpu(ours, h) / http.cpu(ts, h),
                    cpu_ratio(http.backend_cpu(ours, h), http.backend_cpu(ts, h)),
                );
            }
            out.push('\n');
        }
    }

    /// The SQL rows of the targets table: /read and /write at 1.1x tower-sessions-sqlx-store's
    /// rate with no more round trips, on each database.
    pub(super) fn targets(&self, out: &mut String) {
        let [ours, ts] = CONTENDERS;
        for (db, http) in &self.dbs {
            for h in ["read", "write"] {
                let ratio = http.get(ours, h) / http.get(ts, h);
                let trips = |c: &str| {
                    http.trips
                        .get(&(c.to_owned(), h.to_owned()))
                        .map_or(f64::NAN, PerRequest::total)
                };
                let (a, b) = (trips(ours), trips(ts));
                let _ = writeln!(
                    out,
                    "| {db} /{h}: req/s ≥ 1.1x tower-sessions-sqlx-store, round trips ≤ its | {ratio:.2}x; round trips {a:.2} vs {b:.2} | {} |",
                    verdict(ratio >= 1.1 && a <= b + 0.01)
                );
            }
        }
    }
}

/// The ports of one database's servers: each contender connected directly and through the
/// counting proxy, and the proxy.
struct Ports {
    ours: u16,
    ours_counted: u16,
    proxy: u16,
    ts: u16,
    ts_counted: u16,
}

/// A database server the SQL section measures against.
#[derive(Debug, Clone, Copy)]
pub(super) enum Db {
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

    fn ports(self) -> Ports {
        let base = match self {
            Db::Postgres => 18121,
            Db::Mysql => 18131,
        };
        Ports {
            ours: base,
            ours_counted: base + 1,
            proxy: base + 2,
            ts: base + 3,
            ts_counted: base + 4,
        }
    }

    /// The URL tower-sessions-sqlx-store's pool connects to (sqlx 0.8, no TLS compiled in).
    fn url(self, port: u16) -> String {
        match self {
            Db::Postgres => {
                format!("postgres://postgres@127.0.0.1:{port}/{BENCH_DB}?sslmode=disable")
            }
            Db::Mysql => format!("mysql://root@127.0.0.1:{port}/{BENCH_DB}?ssl-mode=disabled"),
        }
    }

    /// The schema of tower-sessions-sqlx-store's table: its default on PostgreSQL (a schema
    /// inside the bench database); on MySQL, where a schema is a database, the bench database.
    fn ts_schema(self) -> &'static str {
        match self {
            Db::Postgres => "tower_sessions",
            Db::Mysql => BENCH_DB,
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

    /// CPU time so far of each database server process (or thread group) that works for the
    /// bench, in ns by PID: PostgreSQL's client backends connected to [`BENCH_DB`] (see
    /// [`is_bench_backend`]), or the whole MariaDB server, whose connections are threads of one
    /// process.
    fn server_cpu_ns(self) -> BTreeMap<u32, u64> {
        let mut out = BTreeMap::new();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return out;
        };
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            let serves_bench = match self {
                Db::Postgres => std::fs::read(entry.path().join("cmdline"))
                    .is_ok_and(|c| is_bench_backend(&String::from_utf8_lossy(&c))),
                Db::Mysql => std::fs::read_to_string(entry.path().join("comm"))
                    .is_ok_and(|c| matches!(c.trim(), "mariadbd" | "mysqld")),
            };
            if serves_bench && let Ok(ns) = cpu_ns(pid) {
                out.insert(pid, ns);
            }
        }
        out
    }
}

/// Whether a PostgreSQL process title is a client backend connected to [`BENCH_DB`]:
/// `postgres: [<cluster>:] <user> <database> <host>(<port>) <state>` (Debian puts the cluster
/// name, `15/main:`, first). Autovacuum workers (`postgres: autovacuum worker <database>`),
/// which come and go, are left out.
fn is_bench_backend(title: &str) -> bool {
    let mut words = title.split_whitespace().peekable();
    if words.next() != Some("postgres:") {
        return false;
    }
    if words.peek().is_some_and(|w| w.ends_with(':')) {
        words.next();
    }
    let (_user, database, client) = (words.next(), words.next(), words.next());
    database == Some(BENCH_DB) && client.is_some_and(|c| c.contains('(') || c == "[local]")
}

/// CPU time used between two [`Db::server_cpu_ns`] readings, in ns: a process present in both
/// adds its growth, a new one all it used. One that exited in between takes its time with
/// it; the pools keep their connections for the whole section.
fn cpu_used(before: &BTreeMap<u32, u64>, after: &BTreeMap<u32, u64>) -> u64 {
    after
        .iter()
        .map(|(pid, ns)| ns.saturating_sub(before.get(pid).copied().unwrap_or(0)))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::stats::Counts;
    use crate::bench::wrk::{Runs, Wrk};

    /// Figures for one database where ours serves `ours_rps` and tower-sessions 1000 req/s.
    fn figures(ours_rps: f64, ours_trips: u64) -> Http {
        let mut runs = Runs::new();
        for (contender, rps, db_cpu) in [("ours", ours_rps, 30.0), ("ts-0.14", 1000.0, 40.0)] {
            for h in HANDLERS {
                let wrk = Wrk {
                    rps,
                    cpu_us: 20.0,
                    backend_cpu_us: db_cpu,
                    requests: 1000,
                    errors: 0,
                };
                runs.insert((contender.to_owned(), h.to_owned()), vec![wrk]);
            }
        }
        let mut http = Http::from_runs(runs);
        for (contender, sync) in [("ours", ours_trips), ("ts-0.14", 3000)] {
            for h in HANDLERS {
                let counts = Counts([("Sync".to_owned(), sync)].into());
                http.trips.insert(
                    (contender.to_owned(), h.to_owned()),
                    counts.per_request(1000),
                );
            }
        }
        http
    }

    #[test]
    fn database_cpu_counts_growth_and_new_processes_never_exited_ones() {
        let before = BTreeMap::from([(10, 1_000), (11, 5_000)]);
        let after = BTreeMap::from([(10, 1_600), (12, 300)]);
        assert_eq!(cpu_used(&before, &after), 900);
    }

    #[test]
    fn only_client_backends_of_the_bench_database_count() {
        for title in [
            "postgres: 15/main: postgres session_bench 127.0.0.1(43210) idle",
            "postgres: postgres session_bench 127.0.0.1(43210) SELECT\0\0",
            "postgres: 15/main: postgres session_bench [local] idle",
        ] {
            assert!(is_bench_backend(title), "{title}");
        }
        for title in [
            "postgres: 15/main: autovacuum worker session_bench",
            "postgres: 15/main: postgres test 127.0.0.1(43211) idle",
            "postgres: 15/main: walwriter",
            "/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main",
        ] {
            assert!(!is_bench_backend(title), "{title}");
        }
    }

    #[test]
    fn the_report_compares_ours_with_the_sqlx_store() {
        let sql = Sql {
            dbs: vec![("postgres".into(), figures(1200.0, 2000))],
        };
        let mut out = String::new();
        sql.markdown(&mut out, &Plan::new(true));
        assert!(
            out.contains("| read | ts-0.14 | 3.00 | Sync 3.00 | 40.00 |"),
            "{out}"
        );
        assert!(
            out.contains("| read | ours | 2.00 | Sync 2.00 | 30.00 |"),
            "{out}"
        );
        assert!(out.contains("| write | 1.20x | 1.00x | 0.75x |"), "{out}");
        let mut targets = String::new();
        sql.targets(&mut targets);
        assert!(
            targets.contains("| postgres /write: req/s ≥ 1.1x tower-sessions-sqlx-store, round trips ≤ its | 1.20x; round trips 2.00 vs 3.00 | **met** |"),
            "{targets}"
        );
    }

    #[test]
    fn more_round_trips_than_the_sqlx_store_miss_the_target() {
        let sql = Sql {
            dbs: vec![("mysql".into(), figures(1200.0, 4000))],
        };
        let mut targets = String::new();
        sql.targets(&mut targets);
        assert!(targets.contains("| mysql /read:"), "{targets}");
        assert!(!targets.contains("**met**"), "{targets}");
    }
}
