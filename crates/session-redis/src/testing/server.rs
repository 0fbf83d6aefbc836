//! A private `redis-server` child process, killed when its guard drops.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TestServerError;

/// How long a server may take to answer PING after it was spawned.
const STARTUP_LIMIT: Duration = Duration::from_secs(30);

/// A free loopback TCP port (the kernel's pick). `also_free(port)` lets the caller demand
/// more, e.g. the cluster bus port `port + 10000`.
pub fn free_port(also_free: impl Fn(u16) -> bool) -> Result<u16, TestServerError> {
    for _ in 0..200 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(TestServerError::io("cannot bind a loopback port"))?;
        if also_free(port) {
            return Ok(port);
        }
    }
    Err(TestServerError::NoFreePort)
}

/// Whether `port` can be bound on loopback right now.
pub fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Sends `PING` and reports whether the server is serving: `+PONG`, or `-NOAUTH` from one
/// that requires a password (but not `-LOADING`).
pub fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    matches!(
        stream.read(&mut buf),
        Ok(n) if buf[..n].starts_with(b"+PONG") || buf[..n].starts_with(b"-NOAUTH")
    )
}

/// Runs `redis-cli -p <port> <args>` and returns its standard output.
pub fn redis_cli(port: u16, args: &[&str]) -> Result<String, TestServerError> {
    let output = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .output()
        .map_err(TestServerError::io(
            "cannot run redis-cli (is redis-tools installed?)",
        ))?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn temp_dir() -> Result<tempfile::TempDir, TestServerError> {
    tempfile::tempdir().map_err(TestServerError::io("cannot create a temp dir"))
}

/// One `redis-server` child process on a private port and directory.
pub struct RedisServer {
    child: Option<Child>,
    config_file: Option<PathBuf>,
    port: u16,
    dir: PathBuf,
    extra: Vec<String>,
    _tmp: Option<tempfile::TempDir>,
}

impl RedisServer {
    /// Starts a server with no persistence on a free port.
    pub fn start() -> Result<Self, TestServerError> {
        Self::start_with(&["--save", "", "--appendonly", "no"])
    }

    /// Starts a server on a free port in a fresh temporary directory with these extra
    /// arguments (e.g. `--appendonly yes --appendfsync always`).
    pub fn start_with(extra: &[&str]) -> Result<Self, TestServerError> {
        let tmp = temp_dir()?;
        let port = free_port(|_| true)?;
        let mut server = Self::start_in(tmp.path(), port, extra)?;
        server._tmp = Some(tmp);
        Ok(server)
    }

    /// Starts a server on `port` with its files in `dir` (kept by the caller).
    pub fn start_in(dir: &Path, port: u16, extra: &[&str]) -> Result<Self, TestServerError> {
        let mut server = RedisServer {
            child: None,
            config_file: None,
            port,
            dir: dir.to_owned(),
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
            _tmp: None,
        };
        server.spawn()?;
        Ok(server)
    }

    /// Starts a Redis Sentinel on a free port that monitors the master on `master_port` under
    /// `master_name`, with a quorum of one and a one-second down-after time.
    pub fn start_sentinel(master_name: &str, master_port: u16) -> Result<Self, TestServerError> {
        let tmp = temp_dir()?;
        let port = free_port(|_| true)?;
        // Sentinel rewrites its config file, so it lives in the temp dir.
        let config_file = tmp.path().join("sentinel.conf");
        std::fs::write(
            &config_file,
            format!(
                "sentinel monitor {master_name} 127.0.0.1 {master_port} 1\n\
                 sentinel down-after-milliseconds {master_name} 1000\n\
                 sentinel failover-timeout {master_name} 10000\n"
            ),
        )
        .map_err(TestServerError::io("cannot write sentinel.conf"))?;
        let mut server = RedisServer {
            child: None,
            config_file: Some(config_file),
            port,
            dir: tmp.path().to_owned(),
            extra: vec!["--sentinel".into()],
            _tmp: Some(tmp),
        };
        server.spawn()?;
        Ok(server)
    }

    fn spawn(&mut self) -> Result<(), TestServerError> {
        let mut command = Command::new("redis-server");
        if let Some(config_file) = &self.config_file {
            command.arg(config_file);
        }
        let child = command
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--dir")
            .arg(&self.dir)
            .arg("--daemonize")
            .arg("no")
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(TestServerError::io(
                "cannot start redis-server (is it installed?)",
            ))?;
        let child = self.child.insert(child);
        let deadline = Instant::now() + STARTUP_LIMIT;
        while !answers_ping(self.port) {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(TestServerError::ExitedAtStart {
                    port: self.port,
                    status,
                });
            }
            if Instant::now() >= deadline {
                return Err(TestServerError::NoPing {
                    port: self.port,
                    limit: STARTUP_LIMIT,
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills the server at once (SIGKILL: no shutdown save), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and directory with the same arguments.
    pub fn restart(&mut self) -> Result<(), TestServerError> {
        self.kill();
        self.spawn()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
