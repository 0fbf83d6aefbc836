//! What the process-level tests share: a demo started as a child process (this test binary
//! run again in a child mode) whose output is collected, and the small line protocol the
//! child serves over the demo's listener.
//!
//! The protocol, one request and one answer per line: `PUT <cookie|-> <value>` answers
//! `OK <cookie>` once the value is committed; `GET <cookie>` answers `VAL <value>` or `NONE`;
//! a session failure answers `ERR <message>`.

#![allow(clippy::unwrap_used, dead_code)] // test helpers; each test file uses a subset

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use demo_support::Settings;
use session_core::Manager;

/// The environment variable that puts the test binary in child mode.
pub const CHILD_MODE: &str = "DEMO_SUPPORT_CHILD_MODE";

/// The child mode this process was started in, if any.
pub fn child_mode() -> Option<String> {
    std::env::var(CHILD_MODE).ok()
}

/// Runs `demo_support::run_with` in a fresh runtime with the settings `env` describes and
/// `serve`, and exits the process with its code.
pub fn run_child<F, Fut>(env: &[(&str, String)], serve: F) -> !
where
    F: FnOnce(Manager, TcpListener) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let settings: Settings = demo_support::settings_from(Vec::<String>::new(), |var| {
        env.iter().find(|(k, _)| *k == var).map(|(_, v)| v.clone())
    })
    .unwrap()
    .unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let code = runtime.block_on(demo_support::run_with(settings, serve));
    std::process::exit(if code == ExitCode::SUCCESS { 0 } else { 1 })
}

/// The demo's `serve`: the line protocol on a blocking thread, until SIGINT or SIGTERM.
pub async fn serve_lines(manager: Manager, listener: TcpListener) -> anyhow::Result<()> {
    listener.set_nonblocking(false)?;
    let runtime = tokio::runtime::Handle::current();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (manager, runtime) = (manager.clone(), runtime.clone());
            std::thread::spawn(move || answer(&manager, &runtime, stream));
        }
    });
    demo_support::shutdown_signal().await;
    Ok(())
}

fn answer(manager: &Manager, runtime: &tokio::runtime::Handle, stream: TcpStream) {
    // One write per answer and no Nagle delay: the tests make thousands of round trips.
    let _ = stream.set_nodelay(true);
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { return };
        let reply = runtime.block_on(request(manager, &line)) + "\n";
        if out.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

async fn request(manager: &Manager, line: &str) -> String {
    let mut parts = line.splitn(3, ' ');
    let result = match (parts.next(), parts.next(), parts.next()) {
        (Some("PUT"), Some(cookie), Some(value)) => put(manager, cookie, value).await,
        (Some("GET"), Some(cookie), None) => {
            let session = manager.load([cookie]);
            session.get::<String>("k").await.map(|v| match v {
                Some(v) => format!("VAL {v}"),
                None => "NONE".to_owned(),
            })
        }
        _ => return format!("ERR bad request {line:?}"),
    };
    result.unwrap_or_else(|e| format!("ERR {e}"))
}

async fn put(manager: &Manager, cookie: &str, value: &str) -> session_core::Result<String> {
    let session = manager.load([cookie].into_iter().filter(|c| *c != "-"));
    session.set("k", value).await?;
    let commit = session.commit().await?;
    let set = commit
        .set_cookie
        .map(|c| c.split(';').next().unwrap_or_default().to_owned());
    Ok(format!("OK {}", set.as_deref().unwrap_or(cookie)))
}

/// A demo child process and everything it has written so far. Killed when dropped.
pub struct Demo {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Demo {
    /// Starts this test binary again, running only `test` in child mode `mode`, with `env`.
    pub fn start(test: &str, mode: &str, env: &[(&str, String)]) -> Demo {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([test, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_MODE, mode)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let collect = |pipe: Box<dyn std::io::Read + Send>| {
            let lines = Arc::new(Mutex::new(Vec::new()));
            let sink = lines.clone();
            // Read to the end so a chatty child never blocks on a full pipe.
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    sink.lock().unwrap().push(strip_ansi(&line));
                }
            });
            lines
        };
        let stdout = collect(Box::new(child.stdout.take().unwrap()));
        let stderr = collect(Box::new(child.stderr.take().unwrap()));
        Demo {
            child,
            stdout,
            stderr,
        }
    }

    /// The process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything written to stdout (the log) so far, one line per entry.
    pub fn log(&self) -> String {
        self.stdout.lock().unwrap().join("\n")
    }

    /// Everything written to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// Waits up to `timeout` for a log line containing `needle` and returns it.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self
                .stdout
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains(needle))
            {
                return Some(line.clone());
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The address from the "session demo listening" line, waiting up to `timeout` for it.
    pub fn listening_addr(&self, timeout: Duration) -> Option<String> {
        let line = self.wait_for_log("session demo listening", timeout)?;
        let addr = line.split("addr=").nth(1)?.split(' ').next()?;
        Some(addr.to_owned())
    }

    /// Sends `signal` (a `kill -s` name such as `TERM` or `HUP`).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -s {signal} failed");
    }

    /// SIGKILL, without waiting for the process to be gone.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
    }

    /// Whether the process is still running.
    pub fn is_alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits up to `timeout` for the process to exit, then gives its status once its output
    /// has been read.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                // The reader threads finish shortly after the pipes close.
                std::thread::sleep(Duration::from_millis(100));
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Removes terminal colour sequences, in case the subscriber colours its output anyway.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A client connection speaking the line protocol.
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    /// Connects to `addr`.
    pub fn connect(addr: &str) -> std::io::Result<Client> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        Ok(Client {
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
        })
    }

    /// Sends one request line and returns the answer line.
    pub fn call(&mut self, request: &str) -> std::io::Result<String> {
        self.writer.write_all(format!("{request}\n").as_bytes())?;
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(line.trim_end().to_owned())
    }
}
