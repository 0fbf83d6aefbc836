//! The least a session layer over the `redis` crate can cost on `/read`: one `GET` of the
//! key our provider stores the cookie's session under, through the connection type and
//! timeouts our provider uses, and nothing else (no ID check, no decoding, no session
//! handle, no response rule). The benchmark's `floor-axum` and `floor-actix` contenders
//! serve it, so the Redis section can say how far above it each session layer sits and
//! what 1.1x the anchor would leave a layer to spend.

use std::time::Duration;

use anyhow::Result;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// A connection set up as our provider sets up its single-server connection, with its
/// default timeouts (`session_redis::RedisConfig`).
pub async fn open(url: &str) -> Result<ConnectionManager> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_response_timeout(Some(Duration::from_secs(3)))
        .set_number_of_retries(1);
    Ok(ConnectionManager::new_with_config(redis::Client::open(url)?, config).await?)
}

/// The session ID in a `Cookie` header value: whatever follows the first `=`.
pub fn cookie_id(header: Option<&[u8]>) -> &str {
    header
        .and_then(|value| std::str::from_utf8(value).ok())
        .and_then(|value| value.split_once('='))
        .map_or("", |(_, id)| id)
}

/// `GET`s the record of session `id` and answers its length (0 when there is none or the
/// call fails), the body the floor routes send.
pub async fn read(connection: &ConnectionManager, id: &str) -> String {
    let mut key = String::with_capacity(id.len() + 10);
    key.push_str("session:{");
    key.push_str(id);
    key.push('}');
    let mut get = redis::Cmd::with_capacity(2, 3 + key.len());
    get.arg("GET").arg(key);
    let value: Option<Vec<u8>> = get
        .query_async(&mut connection.clone())
        .await
        .ok()
        .flatten();
    value.map_or(0, |v| v.len()).to_string()
}
