//! Helpers the cases share: one request through a manager, cookies and raw writes.

use crate::conformance::context::Failure;
use crate::error::Result;
use crate::id::SessionId;
use crate::manager::Manager;
use crate::store::Write;

/// The `name=value` part of a `Set-Cookie` line, usable as a `Cookie` header.
pub(super) fn cookie_pair(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

pub(super) fn id_in(manager: &Manager, cookie: &str) -> Result<SessionId> {
    let value = cookie.split_once('=').map(|(_, v)| v).unwrap_or_default();
    SessionId::parse(value, manager.options().id_length)
}

/// One request that sets `pairs`; returns the cookie it was given.
pub(super) async fn create(
    manager: &Manager,
    pairs: &[(&str, &str)],
) -> std::result::Result<String, Failure> {
    let session = manager.load([]);
    for (k, v) in pairs {
        session.set(k, v).await?;
    }
    let set = session.commit().await?.set_cookie;
    let set = set.ok_or_else(|| Failure::Failed("a new session with data set no cookie".into()))?;
    Ok(cookie_pair(&set))
}

pub(super) async fn get_string(
    manager: &Manager,
    cookie: &str,
    key: &str,
) -> Result<Option<String>> {
    let session = manager.load([cookie]);
    let value = session.get::<String>(key).await?;
    session.commit().await?;
    Ok(value)
}

pub(super) fn write(body: &[u8], expires_at: i64) -> Write<'_> {
    Write {
        body,
        expires_at,
        ttl_ms: 60_000,
        owner: None,
    }
}
