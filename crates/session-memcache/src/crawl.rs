//! Garbage collection through memcached's LRU crawler.
//!
//! memcached drops items when their TTL passes, and core sets that TTL from its own clock,
//! so on a healthy server GC finds little. It still runs, because core's `expires_at` is
//! the truth and memcached's clock or a restarted TTL may disagree with it: the pass lists
//! keys with `lru_crawler metadump all` (memcached 1.4.31+, one dump at a time per server),
//! keeps those under our prefix, reads each with its CAS value, and deletes it only when
//! its stored `expires_at <= now` *and* its CAS is unchanged, so a session refreshed while
//! GC runs is never removed. The dump walks every item on the server, so it belongs off the
//! request path (the manager's GC task), never in a handler.

use std::time::Duration;

use memcache::exp::{AsyncMetaClient, Delete, Get, Meta, MutationStatus};
use percent_encoding::percent_decode_str;
use session_core::{Error, Millis, Result, SessionId};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::config::MemcacheConfig;
use crate::store::backend;
use crate::{NAME, record};

/// How long a pass waits for the LRU crawler when another dump is running.
const CRAWLER_BUSY_WAIT: Duration = Duration::from_millis(50);
/// Keys checked per pipelined batch.
const BATCH: usize = 100;
/// Waits for a busy crawler before a pass gives up (and the GC task retries next period).
const BUSY_RETRIES: u32 = 100;
/// A metadump line is ~100 bytes plus the key; anything longer is not a dump line.
const MAX_LINE: u64 = 4096;

/// One GC pass over every server; returns how many records were removed.
pub(crate) async fn collect(
    client: &AsyncMetaClient,
    cfg: &MemcacheConfig,
    now: Millis,
) -> Result<u64> {
    let mut removed = 0;
    for server in &cfg.servers {
        let keys = dump_keys(server, &cfg.prefix, cfg.timeout).await?;
        for chunk in keys.chunks(BATCH) {
            removed += remove_expired(client, chunk, now).await?;
        }
    }
    Ok(removed)
}

/// The keys under `prefix` that end in a well-formed session ID, from one server's dump.
async fn dump_keys(server: &str, prefix: &str, io_timeout: Duration) -> Result<Vec<String>> {
    let io = |e: std::io::Error| Error::backend(NAME, format!("metadump from {server}: {e}"));
    let timed_out = |_| Error::backend(NAME, format!("metadump from {server} timed out"));
    for _ in 0..BUSY_RETRIES {
        let stream = timeout(io_timeout, TcpStream::connect(server))
            .await
            .map_err(timed_out)?
            .map_err(io)?;
        let mut reader = BufReader::new(stream);
        timeout(
            io_timeout,
            reader.get_mut().write_all(b"lru_crawler metadump all\r\n"),
        )
        .await
        .map_err(timed_out)?
        .map_err(io)?;
        let mut keys = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            let n = timeout(
                io_timeout,
                (&mut reader).take(MAX_LINE).read_line(&mut line),
            )
            .await
            .map_err(timed_out)?
            .map_err(io)?;
            if n == 0 {
                return Err(Error::backend(
                    NAME,
                    format!("metadump from {server} ended early"),
                ));
            }
            let text = line.trim_end();
            if text == "END" {
                return Ok(keys);
            }
            if text.starts_with("BUSY") {
                break;
            }
            if text.starts_with("ERROR") || text.starts_with("CLIENT_ERROR") {
                return Err(Error::backend(
                    NAME,
                    format!("{server} refused lru_crawler metadump: {text}"),
                ));
            }
            if let Some(key) = dump_line_key(text, prefix) {
                keys.push(key);
            }
        }
        tokio::time::sleep(CRAWLER_BUSY_WAIT).await;
    }
    Err(Error::backend(
        NAME,
        format!("{server}: the LRU crawler stayed busy; GC will retry on its next run"),
    ))
}

/// The key of a dump line (`key=<url-encoded> exp=... cas=...`) if it is one of ours.
fn dump_line_key(line: &str, prefix: &str) -> Option<String> {
    let encoded = line.strip_prefix("key=")?.split(' ').next()?;
    let key = percent_decode_str(encoded).decode_utf8().ok()?;
    let id = key.strip_prefix(prefix)?;
    SessionId::parse_any(id).ok()?;
    Some(key.into_owned())
}

async fn remove_expired(client: &AsyncMetaClient, keys: &[String], now: Millis) -> Result<u64> {
    let reads = client
        .run_many(keys.iter().map(|k| Get::new(k).meta(Meta::NONE.cas())))
        .await
        .map_err(backend)?;
    let mut deletes = Vec::new();
    for got in reads {
        let got = got.map_err(backend)?;
        let (Some(value), Some(cas)) = (got.value.as_deref(), got.item.cas) else {
            continue;
        };
        if record::decode(value).is_some_and(|item| item.expires_at <= now) {
            deletes.push(Delete::new(&got.key).compare_cas(cas));
        }
    }
    if deletes.is_empty() {
        return Ok(0);
    }
    let mut removed = 0;
    for done in client.run_many(deletes).await.map_err(backend)? {
        if done.map_err(backend)?.status == MutationStatus::Applied {
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dump_lines() {
        let id = "0123456789abcdef0123456789abcdef";
        let line = format!("key=session%3A{id} exp=-1 la=1 cas=3 fetch=no cls=1 size=70");
        assert_eq!(
            dump_line_key(&line, "session:"),
            Some(format!("session:{id}"))
        );
        assert_eq!(dump_line_key(&line, "other:"), None);
        assert_eq!(
            dump_line_key("key=session%3Anot-an-id exp=-1", "session:"),
            None
        );
        assert_eq!(dump_line_key("END", "session:"), None);
    }
}
