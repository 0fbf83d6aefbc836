//! A TCP proxy that counts a database client's round trips from the wire protocol.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};

use super::sql::Db;
use super::stats::Counts;

/// A TCP proxy in front of a database that counts the client's round trips by protocol
/// message: PostgreSQL `Sync` and `Query` messages (one answer each), MySQL command packets
/// (sequence id 0) other than `COM_STMT_CLOSE` and `COM_QUIT`, which get no answer.
pub(super) struct Proxy {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    pub(super) fn start(port: u16, upstream: u16, db: Db) -> Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .with_context(|| format!("proxy cannot listen on {port}"))?;
        listener.set_nonblocking(true)?;
        let counts = Arc::new(Mutex::new(BTreeMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (counts.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let counts = c.clone();
                        std::thread::spawn(move || {
                            if let Err(e) = proxy_connection(client, upstream, db, &counts) {
                                eprintln!("bench: proxy connection ended: {e}");
                            }
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Ok(Proxy { counts, stop })
    }

    pub(super) fn reset(&self) {
        if let Ok(mut c) = self.counts.lock() {
            c.clear();
        }
    }

    pub(super) fn take(&self) -> Counts {
        Counts(
            self.counts
                .lock()
                .map(|mut c| std::mem::take(&mut *c))
                .unwrap_or_default(),
        )
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn proxy_connection(
    client: TcpStream,
    upstream: u16,
    db: Db,
    counts: &Mutex<BTreeMap<String, u64>>,
) -> Result<()> {
    client.set_nonblocking(false)?;
    client.set_nodelay(true)?;
    let server = TcpStream::connect(("127.0.0.1", upstream))?;
    server.set_nodelay(true)?;
    let (mut from_server, mut to_client) = (server.try_clone()?, client.try_clone()?);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_server, &mut to_client);
        let _ = to_client.shutdown(std::net::Shutdown::Both);
    });
    let (mut from_client, mut to_server) = (client, server);
    let mut parser = Parser::new(db);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = from_client.read(&mut buf)?;
        if n == 0 {
            let _ = to_server.shutdown(std::net::Shutdown::Both);
            return Ok(());
        }
        let seen = parser.feed(&buf[..n]);
        if !seen.is_empty()
            && let Ok(mut c) = counts.lock()
        {
            for name in seen {
                *c.entry(name).or_default() += 1;
            }
        }
        to_server.write_all(&buf[..n])?;
    }
}

/// Splits the client's byte stream into protocol messages.
struct Parser {
    db: Db,
    buf: Vec<u8>,
    /// PostgreSQL: the next message is an untyped startup (or SSL/GSS request) message.
    startup: bool,
}

impl Parser {
    fn new(db: Db) -> Self {
        Parser {
            db,
            buf: Vec::new(),
            startup: true,
        }
    }

    /// Adds bytes; returns the names of the complete round-trip messages among them.
    fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        self.buf.extend_from_slice(bytes);
        let mut seen = Vec::new();
        let mut at = 0;
        loop {
            let rest = &self.buf[at..];
            match self.db {
                Db::Postgres if self.startup => {
                    let Some(len) = rest.get(..4).map(|b| be32(b) as usize) else {
                        break;
                    };
                    if rest.len() < len || len < 8 {
                        break;
                    }
                    let code = be32(&rest[4..8]);
                    // SSLRequest / GSSENCRequest: the real startup message follows.
                    self.startup = code == 80_877_103 || code == 80_877_104;
                    at += len;
                }
                Db::Postgres => {
                    if rest.len() < 5 {
                        break;
                    }
                    let len = be32(&rest[1..5]) as usize + 1;
                    if rest.len() < len {
                        break;
                    }
                    match rest[0] {
                        b'S' => seen.push("Sync".to_owned()),
                        b'Q' => seen.push("Query".to_owned()),
                        _ => {}
                    }
                    at += len;
                }
                Db::Mysql => {
                    if rest.len() < 4 {
                        break;
                    }
                    let len = usize::from(rest[0])
                        | usize::from(rest[1]) << 8
                        | usize::from(rest[2]) << 16;
                    if rest.len() < 4 + len {
                        break;
                    }
                    if rest[3] == 0
                        && let Some(&cmd) = rest.get(4)
                    {
                        let name = match cmd {
                            0x01 | 0x19 => None,
                            0x03 => Some("COM_QUERY".to_owned()),
                            0x16 => Some("COM_STMT_PREPARE".to_owned()),
                            0x17 => Some("COM_STMT_EXECUTE".to_owned()),
                            0x0e => Some("COM_PING".to_owned()),
                            0x1a => Some("COM_STMT_RESET".to_owned()),
                            other => Some(format!("COM_0x{other:02x}")),
                        };
                        seen.extend(name);
                    }
                    at += 4 + len;
                }
            }
        }
        self.buf.drain(..at);
        seen
    }
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}
