//! The SQL section: our postgres and mysql providers, requests per second and round trips
//! per request (counted by [`Proxy`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use super::figures::Http;
use super::plan::Plan;
use super::proxy::Proxy;
use super::report::Report;
use super::stats::PerRequest;
use super::{BENCH_DB, Bench, HANDLERS};

/// Per database: its name, its HTTP figures and its round trips per request by handler.
#[derive(Debug, Default)]
pub(super) struct Sql {
    dbs: Vec<(String, Http, BTreeMap<String, PerRequest>)>,
}

impl Bench {
    pub(super) fn sql(&self, report: &mut Report) -> Result<()> {
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
}

impl Sql {
    /// The report's SQL section.
    pub(super) fn markdown(&self, out: &mut String, plan: &Plan) {
        let _ = write!(
            out,
            "## SQL\n\nOur providers on the local servers (database `session_bench`, table `bench_sessions`, default pool). \
            Round trips are counted by a proxy between a second server instance and the database that parses the wire protocol \
            (PostgreSQL: `Sync` + `Query` messages; MySQL: command packets that get an answer), over an extra {} s wrk run per handler; the req/s figures come from a server connected directly.\n\n",
            plan.count_secs
        );
        for (db, http, trips) in &self.dbs {
            let _ = writeln!(out, "### {db}\n");
            http.table(out, None);
            out.push_str("| handler | round trips/request | by message |\n|---|---:|---|\n");
            for h in HANDLERS {
                if let Some(per) = trips.get(h) {
                    let _ = writeln!(out, "| {h} | {:.2} | {} |", per.total(), per.breakdown());
                }
            }
            out.push('\n');
        }
    }
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
