//! Child processes: the servers under test, their CPU time, and the tools the bench runs.

use std::ffi::{OsStr, OsString};
use std::net::TcpStream;
use std::path::Path;
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
        self.spawn_server(&[], name, args, port, Duration::from_secs(30))
    }

    /// [`Bench::server`] under `valgrind --tool=callgrind`, writing its profile to `out`
    /// (the first `callgrind_control -d` dump goes to `out` + `.1`). Valgrind translates
    /// the whole binary as it first runs, so start-up is allowed much longer.
    pub(super) fn callgrind_server(
        &self,
        name: &str,
        args: &[String],
        port: u16,
        out: &Path,
    ) -> Result<Server> {
        let prefix = [
            OsString::from("valgrind"),
            OsString::from("--tool=callgrind"),
            [OsStr::new("--callgrind-out-file="), out.as_os_str()]
                .into_iter()
                .collect(),
        ];
        self.spawn_server(&prefix, name, args, port, Duration::from_secs(120))
    }

    /// Starts `prefix... <binary name> args...` on core 0 and waits up to `start` for the
    /// port.
    fn spawn_server(
        &self,
        prefix: &[OsString],
        name: &str,
        args: &[String],
        port: u16,
        start: Duration,
    ) -> Result<Server> {
        // Another process on the port would answer in the server's place, and the figures
        // would be that process's.
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            bail!("cannot start {name}: another process already listens on 127.0.0.1:{port}");
        }
        let log = std::fs::File::create(self.work.join(format!("{name}-{port}.log")))?;
        let child = Command::new("taskset")
            .args(["-c", "0"])
            .args(prefix)
            .arg(self.binary(name))
            .args(args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        if let Ok(mut pids) = self.pids.lock() {
            // taskset execs the server (and valgrind execs its tool in place), so the PID is
            // the server's.
            pids.insert(port, child.id());
        }
        let mut server = Server {
            child,
            name: name.to_owned(),
        };
        wait_for_port(port, start)
            .with_context(|| format!("{name} did not start; see {}", self.work.display()))?;
        if let Some(status) = server.child.try_wait()? {
            bail!(
                "{name} exited ({status}) although 127.0.0.1:{port} answers; see {}",
                self.work.display()
            );
        }
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

/// A port nothing listens on now, from the kernel's ephemeral range, so a run does not
/// collide with fixed ports other tools pick.
pub(super) fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
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
