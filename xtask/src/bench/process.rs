//! Child processes: the servers under test, their CPU time, and the tools the bench runs.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::Bench;

/// A child process killed when dropped.
pub(super) struct Server {
    pub(super) child: Child,
    pub(super) name: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Err(e) = self.child.kill() {
            eprintln!("bench: cannot stop {}: {e}", self.name);
        }
        let _ = self.child.wait();
    }
}

impl Bench {
    /// Starts a server binary pinned to core 0 and waits until it accepts connections.
    pub(super) fn server(&self, name: &str, args: &[String], port: u16) -> Result<Server> {
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
}

/// CPU time a process has used so far, all threads, in ns (`/proc/<pid>/task/*/schedstat`).
pub(super) fn cpu_ns(pid: u32) -> Result<u64> {
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

pub(super) fn wait_for_port(port: u16, limit: Duration) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("nothing listens on 127.0.0.1:{port} after {limit:?}")
}

pub(super) fn need_tool(name: &str, install: &str) -> Result<()> {
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

/// Runs a command that prints `name value` lines; returns them (values parsed as numbers).
pub(super) fn run_lines(cmd: &mut Command) -> Result<Vec<(String, f64)>> {
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
