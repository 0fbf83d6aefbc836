//! The bench's own `redis-server`, and counting what the clients ask of it: commands (`INFO
//! commandstats`), round trips (`MONITOR`) and Redis' own CPU time (`INFO cpu`).

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::process::{Server, wait_for_port};
use super::stats::{Counts, PerRequest};
use super::{Bench, REDIS_PORT};

impl Bench {
    /// Commands per request that the client at `port` sent (not those scripts ran), from
    /// `MONITOR` during a short extra run of `handler`.
    pub(super) fn redis_round_trips(
        &self,
        port: u16,
        handler: &str,
        cookies: &Path,
    ) -> Result<PerRequest> {
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
    pub(super) fn private_redis(&self) -> Result<Server> {
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
}

/// Runs `redis-cli` against the private server; returns what it prints.
pub(super) fn redis_cli(args: &[&str]) -> Result<String> {
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

/// CPU time the private redis-server has used so far, all its threads, in µs.
pub(super) fn redis_cpu_us() -> Result<f64> {
    let text = redis_cli(&["INFO", "cpu"])?;
    used_cpu_us(&text)
        .with_context(|| format!("INFO cpu has no used_cpu_user and used_cpu_sys:\n{text}"))
}

/// `used_cpu_user` + `used_cpu_sys` (seconds) from `INFO cpu`, in µs; not the `_children` or
/// `_main_thread` fields, which count part of the same time or other processes.
fn used_cpu_us(info: &str) -> Option<f64> {
    let field = |name: &str| {
        info.lines().find_map(|line| {
            line.trim()
                .strip_prefix(name)?
                .strip_prefix(':')?
                .parse::<f64>()
                .ok()
        })
    };
    Some((field("used_cpu_user")? + field("used_cpu_sys")?) * 1e6)
}

/// `INFO commandstats` as counts, without the bench's own CONFIG and INFO calls.
pub(super) fn redis_commandstats() -> Result<Counts> {
    let text = redis_cli(&["INFO", "commandstats"])?;
    Ok(Counts(commandstats(&text, |name| {
        name == "config" || name == "info"
    })))
}

/// `calls` by command from `INFO commandstats` text, leaving out the commands `skip` names.
pub(super) fn commandstats(info: &str, skip: impl Fn(&str) -> bool) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for line in info.lines() {
        let Some((name, rest)) = line.trim().split_once(':') else {
            continue;
        };
        let Some(name) = name.strip_prefix("cmdstat_") else {
            continue;
        };
        if skip(name) {
            continue;
        }
        let calls = rest
            .split(',')
            .find_map(|kv| kv.strip_prefix("calls="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        counts.insert(name.to_owned(), calls);
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn used_cpu_adds_user_and_system_time_of_the_server_only() {
        let info = "# CPU\r\nused_cpu_sys:1.500000\r\nused_cpu_user:2.250000\r\n\
            used_cpu_sys_children:9.000000\r\nused_cpu_user_children:9.000000\r\n\
            used_cpu_sys_main_thread:1.400000\r\nused_cpu_user_main_thread:2.200000\r\n";
        assert_eq!(used_cpu_us(info), Some(3_750_000.0));
        assert_eq!(used_cpu_us("# CPU\r\nused_cpu_sys_children:1.0\r\n"), None);
    }
}
