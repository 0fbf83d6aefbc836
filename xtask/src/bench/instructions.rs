//! The instructions section: user-space instructions per request of the memory section's
//! contenders, counted by `valgrind --tool=callgrind`. On a shared 2-core machine req/s and
//! even CPU time per request move 2-3x between runs with outside load; an instruction count
//! does not depend on what else runs, so it is the figure that judges the memory targets
//! when the machine is noisy. It is not exactly the same in every process: glibc malloc's
//! state follows each process's random seeds and session IDs, and decides whether an
//! allocation takes a slow path (`malloc_consolidate` put about 3% on some processes'
//! `/read`). So the full run takes the median of a few processes and the report shows
//! their spread.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail, ensure};

use super::client::Conn;
use super::process::free_port;
use super::report::Report;
use super::stats::median;
use super::{Bench, HANDLERS};
use crate::services::ensure_tools;

/// Sessions created before counting; every later request carries one of their cookies.
const SEEDED: usize = 500;
/// Requests before the counters are zeroed, so one-off work (the connection, lazily built
/// state, the allocator's first pages) stays out of the count.
const WARM_UP: usize = 500;
/// (name in the report, `srv-memory` mode), in the order they run. `none` sets no cookie,
/// so it is sent the cookies `ours` set: the baseline then parses the same `Cookie` header.
/// `floor` (see `bench_common::floor`: the least any axum session layer does) runs on
/// `/untouched` only, the one handler it can serve like the others.
const RUNS: [(&str, &str); 4] = [
    ("ours", "ours"),
    ("ts-0.15", "ts"),
    ("none", "none"),
    ("floor", "floor"),
];
/// The report's column order.
const COLUMNS: [&str; 3] = ["none", "ours", "ts-0.15"];

/// Instructions per request by (contender, handler), one value per server process.
#[derive(Debug, Default)]
pub(super) struct Instructions {
    per_request: BTreeMap<(String, String), Vec<f64>>,
    /// Requests counted per process.
    requests: usize,
}

impl Bench {
    pub(super) fn instructions(&self, report: &mut Report) -> Result<()> {
        ensure_tools(&[("valgrind", "valgrind"), ("callgrind_control", "valgrind")])?;
        self.build(&["srv-memory"])?;
        let mut counts = Instructions {
            requests: self.plan.callgrind_requests,
            ..Instructions::default()
        };
        for round in 1..=self.plan.callgrind_processes {
            for handler in HANDLERS {
                let mut ours_cookies = Vec::new();
                for (name, mode) in RUNS {
                    if name == "floor" && handler != "untouched" {
                        continue;
                    }
                    let (per, cookies) =
                        self.callgrind_run(mode, handler, round, free_port()?, &ours_cookies)?;
                    if name == "ours" {
                        ours_cookies = cookies;
                    }
                    eprintln!(
                        "bench: callgrind {round} {name:>8} /{handler:<9} {per:>8.0} instructions/request"
                    );
                    counts
                        .per_request
                        .entry((name.into(), handler.into()))
                        .or_default()
                        .push(per);
                }
            }
        }
        report.instructions = Some(counts);
        Ok(())
    }

    /// One process of `srv-memory <mode>` under callgrind, counting `handler` (the profile
    /// stays in `callgrind.<mode>.<handler>.<round>.out.1` of the work directory): instructions
    /// per request, and the cookies of the sessions it created. A server that sets no
    /// cookie is sent `borrowed` ones.
    fn callgrind_run(
        &self,
        mode: &str,
        handler: &str,
        round: usize,
        port: u16,
        borrowed: &[String],
    ) -> Result<(f64, Vec<String>)> {
        let out = self
            .work
            .join(format!("callgrind.{mode}.{handler}.{round}.out"));
        let mut dump = OsString::from(out.as_os_str());
        dump.push(".1");
        let dump = Path::new(&dump);
        for stale in [out.as_path(), dump] {
            if stale.exists() {
                std::fs::remove_file(stale)?;
            }
        }
        let server =
            self.callgrind_server("srv-memory", &[mode.into(), port.to_string()], port, &out)?;
        let pid = server.child.id().to_string();
        let mut conn = Conn::connect(port)?;
        let mut own = Vec::with_capacity(SEEDED);
        for _ in 0..SEEDED {
            own.extend(conn.new_session()?);
        }
        let cookies = if own.is_empty() { borrowed } else { &own };
        ensure!(
            !cookies.is_empty(),
            "srv-memory {mode} set no cookie and no other contender's cookies ran before it"
        );
        let path = format!("/{handler}");
        let mut send = |i: usize| -> Result<String> {
            let (status, _, body) = conn.get(&path, Some(&cookies[i % cookies.len()]))?;
            ensure!(
                status == 200,
                "srv-memory {mode} {path} answered {status}: {body}"
            );
            Ok(body)
        };
        for i in 0..WARM_UP {
            let body = send(i)?;
            // `/read` of a seeded session finds the value `/write` stored; `0` means the
            // session was lost and the count would be of a miss.
            if handler == "read" && !own.is_empty() && body.trim() == "0" {
                bail!("srv-memory {mode}: a seeded session does not read back");
            }
        }
        callgrind_control("-z", &pid)?;
        let requests = self.plan.callgrind_requests;
        for i in WARM_UP..WARM_UP + requests {
            send(i)?;
        }
        callgrind_control("-d", &pid)?;
        drop(server);
        let total = dump_total(dump)?;
        Ok((total as f64 / requests as f64, own))
    }
}

/// `callgrind_control <command> <pid>`; it returns once the server has acted on it.
fn callgrind_control(command: &str, pid: &str) -> Result<()> {
    let out = Command::new("callgrind_control")
        .args([command, pid])
        .stdin(Stdio::null())
        .output()
        .context("cannot run callgrind_control")?;
    if !out.status.success() {
        bail!(
            "callgrind_control {command} {pid} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// The instruction total of a callgrind dump: its `totals:` line, which callgrind writes
/// last (so a file that has it is complete), or else its `summary:` line.
fn dump_total(dump: &Path) -> Result<u64> {
    let text = std::fs::read_to_string(dump)
        .with_context(|| format!("no callgrind dump at {}", dump.display()))?;
    let line = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    };
    line("totals:")
        .or_else(|| line("summary:"))
        .with_context(|| format!("no totals in {}", dump.display()))
}

impl Instructions {
    /// Instructions per request, the median process (NaN when that run is missing).
    pub(super) fn get(&self, contender: &str, handler: &str) -> f64 {
        self.per_request
            .get(&(contender.to_owned(), handler.to_owned()))
            .map_or(f64::NAN, |v| median(v))
    }

    /// The largest spread between processes of one (contender, handler), as a fraction of
    /// its median, with that contender and handler.
    fn widest_spread(&self) -> Option<(f64, &str, &str)> {
        self.per_request
            .iter()
            .map(|((c, h), v)| {
                let (lo, hi) = v
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
                        (lo.min(*x), hi.max(*x))
                    });
                ((hi - lo) / median(v), c.as_str(), h.as_str())
            })
            .max_by(|a, b| a.0.total_cmp(&b.0))
    }

    /// Instructions per request over the no-layer baseline's.
    pub(super) fn overhead(&self, contender: &str, handler: &str) -> f64 {
        self.get(contender, handler) - self.get("none", handler)
    }

    /// Server processes per (contender, handler).
    fn runs(&self) -> usize {
        self.per_request.values().map(Vec::len).max().unwrap_or(0)
    }

    /// The report's instructions section.
    pub(super) fn markdown(&self, out: &mut String) {
        let _ = write!(
            out,
            "## Instructions per request, memory\n\n\
             The memory section's three contenders under `valgrind --tool=callgrind`: user-space instructions per request, {} per contender and handler \
             (each: {SEEDED} sessions created, {WARM_UP} warm-up requests, counters zeroed, then {} requests over one keep-alive connection, cycling the sessions' cookies; \
             `none` is sent `ours`' cookies, so it parses the same `Cookie` header). \
             Kernel work (the socket calls) is not counted; it is the same for every contender. \
             The counts do not depend on what else the machine runs; processes differ only by their random seeds and session IDs, through which glibc malloc's state can add up to about 3%.\n\n\
             | handler |",
            match self.runs() {
                1 => "from one server process".to_owned(),
                n => format!("the median of {n} server processes"),
            },
            self.requests
        );
        for c in COLUMNS {
            let _ = write!(out, " {c} |");
        }
        out.push_str(
            " ours overhead | ts-0.15 overhead | ours / ts-0.15 overhead |\n|---|---:|---:|---:|---:|---:|---:|\n",
        );
        for h in HANDLERS {
            let _ = write!(out, "| {h} |");
            for c in COLUMNS {
                let _ = write!(out, " {:.0} |", self.get(c, h));
            }
            let (ours, ts) = (self.overhead("ours", h), self.overhead("ts-0.15", h));
            let _ = writeln!(out, " {ours:.0} | {ts:.0} | {:.2} |", ours / ts);
        }
        let none = self.get("none", "untouched");
        let floor = self.get("floor", "untouched");
        let _ = writeln!(
            out,
            "\n- /untouched: ours costs {:.3}x the no-layer count; tower-sessions {:.3}x.\n\
             - The floor under that target: a layer that does only what every axum session layer must \
             (installed with `Router::layer`, it allocates one per-request handle, puts a clone in the request's extensions and holds the other until the response; \
             no cookie read, nothing written; `bench/common/src/floor.rs`) costs {floor:.0} instructions, {:.3}x the no-layer count. \
             Of ours' {:.0} instructions over no layer, {:.0} are that floor and {:.0} our own work (reading the `Cookie` header, the session's state, the commit check).",
            self.get("ours", "untouched") / none,
            self.get("ts-0.15", "untouched") / none,
            floor / none,
            self.overhead("ours", "untouched"),
            floor - none,
            self.get("ours", "untouched") - floor,
        );
        if self.runs() > 1
            && let Some((spread, c, h)) = self.widest_spread()
        {
            let _ = writeln!(
                out,
                "- Widest spread between processes (max − min over the median): {:.2}% ({c} /{h}).",
                spread * 100.0
            );
        }
        out.push('\n');
    }
}
