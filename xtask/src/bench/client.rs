//! A minimal blocking HTTP/1.1 client: enough to create sessions and check one reads back.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// A minimal HTTP/1.1 GET over a fresh connection: (status, `Set-Cookie` pairs, body).
pub(super) fn http_get(
    port: u16,
    path: &str,
    cookie: Option<&str>,
) -> Result<(u16, Vec<String>, String)> {
    Conn::connect(port)?.get(path, cookie)
}

/// One keep-alive connection.
pub(super) struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    /// Connects to 127.0.0.1:`port`.
    pub(super) fn connect(port: u16) -> Result<Self> {
        Self::new(TcpStream::connect(("127.0.0.1", port))?)
    }

    fn new(stream: TcpStream) -> Result<Self> {
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
        })
    }

    /// `GET path` with an optional `Cookie` header: (status, `Set-Cookie` pairs, body).
    pub(super) fn get(
        &mut self,
        path: &str,
        cookie: Option<&str>,
    ) -> Result<(u16, Vec<String>, String)> {
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        if let Some(cookie) = cookie {
            let _ = write!(request, "Cookie: {cookie}\r\n");
        }
        request.push_str("\r\n");
        self.writer.write_all(request.as_bytes())?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line {line:?}"))?;
        let mut length = 0usize;
        let mut chunked = false;
        let mut cookies = Vec::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse()?,
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "set-cookie" => {
                    cookies.push(value.split(';').next().unwrap_or_default().to_owned());
                }
                _ => {}
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.reader.read_line(&mut line)?;
                let size = usize::from_str_radix(line.trim(), 16)?;
                let mut chunk = vec![0; size + 2];
                self.reader.read_exact(&mut chunk)?;
                chunk.truncate(size);
                body.extend_from_slice(&chunk);
                if size == 0 {
                    break;
                }
            }
        } else {
            body.resize(length, 0);
            self.reader.read_exact(&mut body)?;
        }
        Ok((status, cookies, String::from_utf8_lossy(&body).into_owned()))
    }

    /// `GET /write` without a cookie, which creates a session: its `name=value` cookie, or
    /// `None` from a server without a session layer.
    pub(super) fn new_session(&mut self) -> Result<Option<String>> {
        let (status, set, body) = self.get("/write", None)?;
        if status != 200 {
            bail!("seeding /write answered {status}: {body}");
        }
        Ok(set.into_iter().next())
    }
}

/// Creates `n` sessions with cookie-less `GET /write` requests over a few keep-alive
/// connections and returns their `name=value` cookies.
pub(super) fn seed_sessions(port: u16, n: usize) -> Result<Vec<String>> {
    const CONNECTIONS: usize = 8;
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|w| {
            let count = n / CONNECTIONS + usize::from(w < n % CONNECTIONS);
            std::thread::spawn(move || -> Result<Vec<String>> {
                let mut conn = Conn::connect(port)?;
                let mut cookies = Vec::with_capacity(count);
                for _ in 0..count {
                    let cookie = conn.new_session()?.with_context(|| {
                        format!("port {port}: /write without a cookie set no cookie")
                    })?;
                    cookies.push(cookie);
                }
                Ok(cookies)
            })
        })
        .collect();
    let mut cookies = Vec::with_capacity(n);
    for worker in workers {
        let part = worker
            .join()
            .map_err(|_| anyhow::anyhow!("a seeding thread panicked"))??;
        cookies.extend(part);
    }
    Ok(cookies)
}

/// `GET path` once with each of `cookies` (`name=value`), over a few keep-alive
/// connections; fails on any answer but 200.
pub(super) fn get_each(port: u16, path: &str, cookies: &[String]) -> Result<()> {
    const CONNECTIONS: usize = 8;
    let chunk = cookies.len().div_ceil(CONNECTIONS).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = cookies
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || -> Result<()> {
                    let mut conn = Conn::connect(port)?;
                    for cookie in part {
                        let (status, _, body) = conn.get(path, Some(cookie))?;
                        if status != 200 {
                            bail!("port {port}: {path} answered {status}: {body}");
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for worker in workers {
            worker
                .join()
                .map_err(|_| anyhow::anyhow!("a reading thread panicked"))??;
        }
        Ok(())
    })
}
