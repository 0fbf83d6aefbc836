//! A TCP proxy in front of Redis that counts the commands clients send (RESP arrays), so a
//! test can check how many commands an operation costs without MONITOR.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::TestServerError;

/// The running proxy; it stops with the test's runtime.
pub struct CountingProxy {
    port: u16,
    commands: Arc<AtomicU64>,
}

impl CountingProxy {
    /// Listens on a free loopback port and forwards every connection to `upstream`.
    pub async fn start(upstream: String) -> Result<Self, TestServerError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(TestServerError::io("cannot bind the proxy port"))?;
        let port = listener
            .local_addr()
            .map_err(TestServerError::io("cannot read the proxy's address"))?
            .port();
        let commands = Arc::new(AtomicU64::new(0));
        let counter = commands.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let counter = counter.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        forward(client, server, counter).await;
                    }
                });
            }
        });
        Ok(CountingProxy { port, commands })
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Commands seen since the last call (and resets the count).
    pub fn take(&self) -> u64 {
        self.commands.swap(0, Ordering::SeqCst)
    }
}

async fn forward(client: TcpStream, server: TcpStream, counter: Arc<AtomicU64>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upward = async move {
        let mut parser = RespCounter::default();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            counter.fetch_add(parser.feed(&buf[..n]), Ordering::SeqCst);
            if server_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = server_write.shutdown().await;
    };
    let downward = async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    };
    tokio::join!(upward, downward);
}

/// Counts complete top-level commands (`*N` arrays of `$len` bulk strings) in a byte stream.
#[derive(Default)]
struct RespCounter {
    pending: Vec<u8>,
}

impl RespCounter {
    fn feed(&mut self, bytes: &[u8]) -> u64 {
        self.pending.extend_from_slice(bytes);
        let mut count = 0;
        let mut pos = 0;
        while let Some(end) = command_end(&self.pending[pos..]) {
            pos += end;
            count += 1;
        }
        self.pending.drain(..pos);
        count
    }
}

fn line(buf: &[u8]) -> Option<(&[u8], usize)> {
    let i = buf.windows(2).position(|w| w == b"\r\n")?;
    Some((&buf[..i], i + 2))
}

fn command_end(buf: &[u8]) -> Option<usize> {
    let (header, mut pos) = line(buf)?;
    let n: usize = std::str::from_utf8(header.strip_prefix(b"*")?)
        .ok()?
        .parse()
        .ok()?;
    for _ in 0..n {
        let (len_line, used) = line(&buf[pos..])?;
        let len: usize = std::str::from_utf8(len_line.strip_prefix(b"$")?)
            .ok()?
            .parse()
            .ok()?;
        pos += used;
        if buf.len() < pos + len + 2 {
            return None;
        }
        pos += len + 2;
    }
    Some(pos)
}
