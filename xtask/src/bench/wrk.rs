//! Load runs: `wrk` against a seeded server, and the rounds in which contenders take turns.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::client::{http_get, seed_sessions};
use super::process::cpu_ns;
use super::{Bench, CONNECTIONS, SESSIONS};

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

/// The order of the handlers within a round: `/read` first.
///
/// Ours refreshes an idle session's expiry on a read at most once a minute
/// (`touch_interval`), and a `/write` run refreshes every seeded session at once. With
/// `/read` after `/untouched` and `/write`, a contender's `/read` came about 17-19 runs
/// after its own `/write` of the round before: about 60 s with 3 s runs, so all 10,000 of
/// its sessions could fall due together inside the measured `/read` run (0.03 refreshes
/// per read in such a run, where a deployment spreads them over the minute). Read first,
/// the gap is the contenders' count, about ten runs, well inside the minute.
const ROUND_ORDER: [&str; 3] = ["read", "untouched", "write"];

/// Whether contender `name` is measured on `handler`: a bare-`GET` floor of the Redis
/// section (`floor-*`) answers only `/read` with work of its own, everyone else every handler.
pub(super) fn serves(name: &str, handler: &str) -> bool {
    !is_floor(name) || handler == "read"
}

/// Whether contender `name` is a bare-`GET` floor (no session layer).
pub(super) fn is_floor(name: &str) -> bool {
    name.starts_with("floor-")
}

/// One wrk result.
#[derive(Debug, Clone, Copy)]
pub(super) struct Wrk {
    pub(super) rps: f64,
    /// Server CPU time per request, µs (NaN when unknown).
    pub(super) cpu_us: f64,
    /// CPU time per request of the store's server (Redis, the database), µs; NaN unless the
    /// section measured it around the run.
    pub(super) backend_cpu_us: f64,
    pub(super) requests: u64,
    pub(super) errors: u64,
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
                backend_cpu_us: f64::NAN,
                requests,
                errors,
            }),
            _ => bail!("cannot read wrk output:\n{text}"),
        }
    }
}

impl Wrk {
    /// Records the store's server's CPU time over this run (`used_us`, µs) per request.
    pub(super) fn set_backend_cpu(&mut self, used_us: f64) {
        self.backend_cpu_us = used_us / self.requests.max(1) as f64;
    }
}

/// Runs by (contender, handler), in the order they ran.
pub(super) type Runs = BTreeMap<(String, String), Vec<Wrk>>;

impl Bench {
    /// One wrk run against `path` with cookies from `cookies`; load generator on core 1.
    pub(super) fn wrk(&self, port: u16, path: &str, cookies: &Path, secs: u64) -> Result<Wrk> {
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
    pub(super) fn seed(&self, port: u16, file: &str) -> Result<PathBuf> {
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
    /// `around` wraps each wrk run (the Redis section counts commands around it).
    pub(super) fn rounds(
        &self,
        contenders: &[(&str, u16, PathBuf)],
        mut around: impl FnMut(&str, &str, &dyn Fn() -> Result<Wrk>) -> Result<Wrk>,
    ) -> Result<Runs> {
        let mut out = Runs::new();
        if !self.plan.quick {
            for (_, port, cookies) in contenders {
                // Warm-up: connections, caches, allocator. (`--quick` relies on the median
                // of its rounds instead.)
                self.wrk(*port, "/read", cookies, 1)?;
            }
        }
        for round in 0..self.plan.runs {
            for handler in ROUND_ORDER {
                for (name, port, cookies) in contenders {
                    if !serves(name, handler) {
                        continue;
                    }
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_measures_every_handler_once_read_first() {
        let mut ordered = ROUND_ORDER.to_vec();
        assert_eq!(ordered[0], "read");
        ordered.sort_unstable();
        let mut handlers = crate::bench::HANDLERS.to_vec();
        handlers.sort_unstable();
        assert_eq!(ordered, handlers);
    }

    #[test]
    fn floors_serve_only_read() {
        assert!(serves("floor-axum", "read"));
        assert!(!serves("floor-actix", "write"));
        assert!(!serves("floor-actix", "untouched"));
        assert!(serves("ours", "write"));
    }
}
