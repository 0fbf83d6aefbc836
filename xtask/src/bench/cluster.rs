//! The `cluster` section: how a three-master Redis Cluster shares the commands of a load
//! that creates sessions and then writes them, per master from `INFO commandstats`. The
//! target: no master serves more than 45% of them, so adding masters adds write capacity.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{Context, Result};
use session_redis::testing::cluster::RedisCluster;
use session_redis::testing::server::redis_cli;

use super::Bench;
use super::report::Report;
use super::targets::verdict;

/// The largest share of the commands one master may serve.
const MAX_SHARE: f64 = 0.45;
/// The masters the section starts.
const MASTERS: usize = 3;
/// Where our axum server listens.
const PORT: u16 = 18130;
/// Commands that are the harness's or the client's bookkeeping, not the load's.
const BOOKKEEPING: [&str; 7] = [
    "config", "info", "cluster", "command", "ping", "hello", "client",
];

/// Commands per master in one phase of the load.
#[derive(Debug)]
struct Phase {
    name: &'static str,
    /// Requests the phase sent.
    requests: u64,
    /// Per master (by port): commands, and commands by name.
    masters: Vec<(u16, u64, BTreeMap<String, u64>)>,
}

impl Phase {
    fn total(&self) -> u64 {
        self.masters.iter().map(|(_, n, _)| n).sum()
    }

    fn largest_share(&self) -> f64 {
        let total = self.total().max(1) as f64;
        self.masters
            .iter()
            .map(|(_, n, _)| *n as f64 / total)
            .fold(0.0, f64::max)
    }
}

/// What the section measured.
#[derive(Debug, Default)]
pub(super) struct Cluster {
    phases: Vec<Phase>,
    /// How long the write phase ran.
    secs: u64,
}

impl Bench {
    pub(super) fn cluster(&self, report: &mut Report) -> Result<()> {
        crate::services::ensure_tools(crate::services::REDIS_TOOLS)?;
        self.build(&["srv-redis-ours"])?;
        let cluster = RedisCluster::start(MASTERS).context("starting a Redis Cluster")?;
        let config = format!("cluster=true,addrs={}", cluster.addrs().join("|"));
        let _server = self.server("srv-redis-ours", &[PORT.to_string(), config], PORT)?;
        let ports = cluster.ports();

        // Creating sessions: each `GET /write` without a cookie inserts one.
        reset(&ports)?;
        let cookies = self.seed(PORT, "cluster.cookies")?;
        let created = snapshot(&ports, "create sessions", super::SESSIONS as u64)?;

        // Writing them: wrk cycles through their cookies.
        reset(&ports)?;
        let run = self.wrk(PORT, "/write", &cookies, self.plan.secs)?;
        let written = snapshot(&ports, "write existing sessions", run.requests)?;

        for phase in [&created, &written] {
            eprintln!(
                "bench: cluster {}: {:?}",
                phase.name,
                phase
                    .masters
                    .iter()
                    .map(|(p, n, _)| (p, n))
                    .collect::<Vec<_>>()
            );
        }
        report.cluster = Some(Cluster {
            phases: vec![created, written],
            secs: self.plan.secs,
        });
        Ok(())
    }
}

/// Zeroes every master's command statistics.
fn reset(ports: &[u16]) -> Result<()> {
    for port in ports {
        redis_cli(*port, &["CONFIG", "RESETSTAT"])?;
    }
    Ok(())
}

/// Every master's commands since the last [`reset`], bookkeeping left out.
fn snapshot(ports: &[u16], name: &'static str, requests: u64) -> Result<Phase> {
    let mut masters = Vec::new();
    for port in ports {
        let info = redis_cli(*port, &["INFO", "commandstats"])?;
        let by_name = commandstats(&info);
        masters.push((*port, by_name.values().sum(), by_name));
    }
    Ok(Phase {
        name,
        requests,
        masters,
    })
}

/// `calls` by command from `INFO commandstats` text, bookkeeping left out.
fn commandstats(info: &str) -> BTreeMap<String, u64> {
    super::redis::commandstats(info, |name| BOOKKEEPING.iter().any(|b| name.starts_with(b)))
}

impl Cluster {
    /// The target rows: one per phase.
    pub(super) fn targets(&self, out: &mut String) {
        for phase in &self.phases {
            let share = phase.largest_share();
            let _ = writeln!(
                out,
                "| cluster ({MASTERS} masters), {}: no master above {:.0}% of the commands | largest share {:.1}% | {} |",
                phase.name,
                MAX_SHARE * 100.0,
                share * 100.0,
                verdict(share <= MAX_SHARE)
            );
        }
    }

    pub(super) fn markdown(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "## Redis Cluster: commands per master\n\n\
             Our redis provider behind our axum adapter on a {MASTERS}-master Redis Cluster started for the section (`cluster=true`). \
             First {} sessions are created through `GET /write` without a cookie, then wrk writes them for {} s (`/write`, cycling their cookies). \
             Each master's `INFO commandstats` is reset before each phase and read after it; the harness's and the client's own commands (`CONFIG`, `INFO`, `CLUSTER`, `COMMAND`, `PING`, `HELLO`, `CLIENT`) are left out.\n",
            super::SESSIONS,
            self.secs,
        );
        out.push_str("| phase | master | commands | share | commands per request | by command |\n|---|---|---:|---:|---:|---|\n");
        for phase in &self.phases {
            let total = phase.total().max(1) as f64;
            for (port, n, by_name) in &phase.masters {
                let names: Vec<String> = by_name
                    .iter()
                    .map(|(name, calls)| format!("{name} {calls}"))
                    .collect();
                let _ = writeln!(
                    out,
                    "| {} | :{port} | {n} | {:.1}% | {:.2} | {} |",
                    phase.name,
                    *n as f64 / total * 100.0,
                    *n as f64 / phase.requests.max(1) as f64,
                    names.join(", ")
                );
            }
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commandstats_leaves_out_bookkeeping() {
        let info = "# Commandstats\r\n\
                    cmdstat_evalsha:calls=10,usec=50,usec_per_call=5.00,rejected_calls=0,failed_calls=0\r\n\
                    cmdstat_config|resetstat:calls=1,usec=5,usec_per_call=5.00\r\n\
                    cmdstat_get:calls=7,usec=7,usec_per_call=1.00\r\n";
        let stats = commandstats(info);
        assert_eq!(stats.len(), 2, "{stats:?}");
        assert_eq!(stats["evalsha"], 10);
        assert_eq!(stats["get"], 7);
    }

    #[test]
    fn the_largest_share_is_judged_against_the_target() {
        let phase = Phase {
            name: "test",
            requests: 10,
            masters: vec![
                (1, 50, BTreeMap::new()),
                (2, 30, BTreeMap::new()),
                (3, 20, BTreeMap::new()),
            ],
        };
        assert!((phase.largest_share() - 0.5).abs() < 1e-9);
        let mut out = String::new();
        Cluster {
            phases: vec![phase],
            secs: 1,
        }
        .targets(&mut out);
        assert!(
            out.contains("largest share 50.0%") && out.contains("**missed**"),
            "{out}"
        );
    }
}
