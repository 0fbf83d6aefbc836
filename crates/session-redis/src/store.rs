//! [`RedisStore`]: the [`RawStore`] over a Redis connection.

use std::collections::HashSet;

use async_trait::async_trait;
use futures_util::future::try_join_all;
use redis::{RedisError, Script, ScriptInvocation};
use session_core::{
    Capabilities, Error, Inserted, Millis, ProviderContext, RawStore, Result, Saved, SessionId,
    Stored, Version, Write,
};

use crate::NAME;
use crate::config::RedisConfig;
use crate::conn::Conn;
use crate::scripts::{Keys, Scripts, WRITTEN_INDEX_PENDING};

/// How many index entries one GC step looks at.
const GC_BATCH: usize = 500;

/// The largest index slack any store uses (ms): how far an index score may lag its record's
/// expiry. `count` and `owner_sessions` check records in a window this wide below `now`, so
/// it bounds the slack of every store sharing a prefix, whatever their idle lifetimes.
const MAX_SLACK_MS: Millis = 60_000;

/// The index slack for an idle lifetime: a tenth of it, at most [`MAX_SLACK_MS`]. That is the
/// most core's own touch interval can be (a tenth of the idle lifetime, 60 s by default), so
/// the index is at most as stale as core already lets a stored expiry be.
fn slack_for(idle_lifetime_ms: Millis) -> Millis {
    (idle_lifetime_ms / 10).clamp(0, MAX_SLACK_MS)
}

/// Sessions in Redis: one hash per session, an expiry index for count and GC, and an owner
/// index. See the crate docs for the layout and the consistency it gives on a cluster.
pub struct RedisStore {
    conn: Conn,
    keys: Keys,
    scripts: Scripts,
    /// Saves skip the index unless the expiry moved at least this far (ms); see the scripts
    /// module docs.
    slack: Millis,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.keys.prefix())
            .field("cluster", &self.conn.is_cluster())
            .finish()
    }
}

fn backend(e: RedisError) -> Error {
    Error::backend(NAME, e)
}

fn corrupt(what: &str) -> Error {
    Error::Corrupt(format!("redis session hash: {what}"))
}

impl RedisStore {
    /// Connects as `config` says and loads the scripts (on every master of a cluster), so a
    /// wrong address or password fails here, not on the first request. The index slack is a
    /// tenth of `ctx.max_lifetime_ms`, at most 60 s (see "Commands per write" in the crate
    /// docs).
    pub async fn open(config: RedisConfig, ctx: &ProviderContext) -> Result<RedisStore> {
        config.validate()?;
        let conn = Conn::open(&config).await.map_err(backend)?;
        let store = RedisStore {
            conn,
            keys: Keys::new(&config.prefix),
            scripts: Scripts::new(),
            slack: slack_for(ctx.max_lifetime_ms),
        };
        store.load_scripts().await?;
        Ok(store)
    }

    /// Whether this store talks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.conn.is_cluster()
    }

    /// The key prefix of this store.
    pub fn prefix(&self) -> &str {
        self.keys.prefix()
    }

    /// Loads every script up front (on every cluster master), so the first request of each
    /// kind is one `EVALSHA` rather than `EVALSHA`, `SCRIPT LOAD`, `EVALSHA`.
    async fn load_scripts(&self) -> Result<()> {
        for script in self.scripts.all() {
            let mut conn = self.conn.clone();
            script
                .prepare_invoke()
                .load_async(&mut conn)
                .await
                .map_err(backend)?;
        }
        Ok(())
    }

    async fn run<T: redis::FromRedisValue>(&self, invocation: ScriptInvocation<'_>) -> Result<T> {
        let mut conn = self.conn.clone();
        invocation.invoke_async(&mut conn).await.map_err(backend)
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T> {
        let mut conn = self.conn.clone();
        cmd.query_async(&mut conn).await.map_err(backend)
    }

    /// Prepares a session script: on a single server the index keys ride along, so the
    /// script updates record and index atomically.
    fn session_script<'a>(&self, script: &'a Script, id: &SessionId) -> ScriptInvocation<'a> {
        let mut invocation = script.prepare_invoke();
        invocation.key(self.keys.session_of(id));
        if !self.conn.is_cluster() {
            invocation.key(self.keys.index()).key(self.keys.owners());
        }
        invocation
    }

    fn index_script<'a>(&self, script: &'a Script) -> ScriptInvocation<'a> {
        let mut invocation = script.prepare_invoke();
        invocation.key(self.keys.index()).key(self.keys.owners());
        invocation
    }

    /// The TTL index keys need for a session write with this `ttl_ms`: the record's own
    /// plus the slack, since later saves may push the record's TTL that far without touching
    /// the index.
    fn index_ttl(&self, ttl_ms: Millis) -> Millis {
        ttl_ms.max(1).saturating_add(self.slack)
    }

    async fn write(
        &self,
        script: &Script,
        id: &SessionId,
        version: u64,
        record: &Write<'_>,
        expected: Option<Version>,
    ) -> Result<i64> {
        let mut invocation = self.session_script(script, id);
        invocation
            .arg(record.body)
            .arg(version.to_string())
            .arg(record.expires_at)
            .arg(record.ttl_ms.max(1))
            .arg(if record.owner.is_some() { "1" } else { "0" })
            .arg(record.owner.unwrap_or_default())
            .arg(id.as_str())
            .arg(self.keys.owner_prefix())
            .arg(expected.map(|v| v.0.to_string()).unwrap_or_default())
            .arg(self.slack)
            .arg(self.index_ttl(record.ttl_ms));
        let outcome: i64 = self.run(invocation).await?;
        if outcome == WRITTEN_INDEX_PENDING {
            // The index lives in another slot: a second command, after the write succeeded.
            let mut index = self.index_script(&self.scripts.index_set);
            index
                .arg(id.as_str())
                .arg(record.expires_at)
                .arg(if record.owner.is_some() { "1" } else { "0" })
                .arg(record.owner.unwrap_or_default())
                .arg(self.keys.owner_prefix())
                .arg(self.index_ttl(record.ttl_ms));
            self.update_index(index).await;
        }
        Ok(outcome)
    }

    /// Runs an index script on a cluster after the session's own write succeeded. A failure
    /// is logged, not returned: the session operation itself is done and must not be reported
    /// (and retried) as failed; the index catches up on the session's next write or touch, or
    /// at GC (see the crate docs on consistency).
    async fn update_index(&self, invocation: ScriptInvocation<'_>) {
        if let Err(e) = self.run::<i64>(invocation).await {
            tracing::warn!(provider = NAME, error = %e, "redis session index update failed; the index lags until the next write or GC");
        }
    }

    async fn gc_single(&self, now: Millis) -> Result<u64> {
        let mut removed = 0u64;
        loop {
            let mut invocation = self.index_script(&self.scripts.gc_inline);
            invocation
                .arg(now)
                .arg(GC_BATCH)
                .arg(self.keys.prefix())
                .arg(self.keys.owner_prefix());
            let (seen, gone): (usize, u64) = self.run(invocation).await?;
            removed += gone;
            if seen < GC_BATCH {
                return Ok(removed);
            }
        }
    }

    async fn gc_cluster(&self, now: Millis) -> Result<u64> {
        let mut removed = 0u64;
        loop {
            let ids: Vec<String> = self
                .query(
                    redis::cmd("ZRANGEBYSCORE")
                        .arg(self.keys.index())
                        .arg("-inf")
                        .arg(now)
                        .arg("LIMIT")
                        .arg(0)
                        .arg(GC_BATCH),
                )
                .await?;
            if ids.is_empty() {
                return Ok(removed);
            }
            // Each record is checked and deleted in its own slot, all requests in flight at
            // once on the multiplexed connection.
            let kept = try_join_all(ids.iter().map(|id| async move {
                let mut invocation = self.scripts.gc_record.prepare_invoke();
                invocation.key(self.keys.session(id)).arg(now);
                self.run::<Option<String>>(invocation).await
            }))
            .await?;
            let mut index = self.index_script(&self.scripts.index_gc);
            index.arg(now).arg(self.keys.owner_prefix());
            for (id, expiry) in ids.iter().zip(&kept) {
                index
                    .arg(id.as_str())
                    .arg(expiry.as_deref().unwrap_or_default());
            }
            removed += self.run::<u64>(index).await?;
            if ids.len() < GC_BATCH {
                return Ok(removed);
            }
        }
    }
}

#[async_trait]
impl RawStore for RedisStore {
    fn provider(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }

    async fn read(&self, id: &SessionId) -> Result<Option<Stored>> {
        let (body, version, expires_at): (Option<Vec<u8>>, Option<String>, Option<String>) = self
            .query(
                redis::cmd("HMGET")
                    .arg(self.keys.session_of(id))
                    .arg("b")
                    .arg("v")
                    .arg("e"),
            )
            .await?;
        match (body, version, expires_at) {
            (None, None, None) => Ok(None),
            (Some(body), Some(version), Some(expires_at)) => Ok(Some(Stored {
                body: body.into(),
                version: Version(version.parse().map_err(|_| corrupt("bad version"))?),
                expires_at: expires_at.parse().map_err(|_| corrupt("bad expiry"))?,
            })),
            _ => Err(corrupt("missing fields")),
        }
    }

    async fn exist(&self, id: &SessionId) -> Result<bool> {
        self.query(redis::cmd("EXISTS").arg(self.keys.session_of(id)))
            .await
    }

    async fn insert(&self, id: &SessionId, record: Write<'_>) -> Result<Inserted> {
        // Random, not a per-key counter: unique across deletes and re-creates.
        let version = Version::random(NAME)?;
        match self
            .write(&self.scripts.insert, id, version.0, &record, None)
            .await?
        {
            1 | WRITTEN_INDEX_PENDING => Ok(Inserted::Created(version)),
            _ => Ok(Inserted::Exists),
        }
    }

    async fn save(&self, id: &SessionId, expected: Version, record: Write<'_>) -> Result<Saved> {
        let version = Version::random(NAME)?;
        match self
            .write(&self.scripts.save, id, version.0, &record, Some(expected))
            .await?
        {
            1 | WRITTEN_INDEX_PENDING => Ok(Saved::Saved(version)),
            0 => Ok(Saved::Conflict),
            _ => Ok(Saved::Missing),
        }
    }

    async fn touch(&self, id: &SessionId, expires_at: Millis, ttl_ms: Millis) -> Result<bool> {
        let mut invocation = self.session_script(&self.scripts.touch, id);
        invocation
            .arg(expires_at)
            .arg(ttl_ms.max(1))
            .arg(id.as_str())
            .arg(self.keys.owner_prefix())
            .arg(self.index_ttl(ttl_ms));
        let touched: i64 = self.run(invocation).await?;
        if touched == WRITTEN_INDEX_PENDING {
            let mut index = self.index_script(&self.scripts.index_touch);
            index
                .arg(id.as_str())
                .arg(expires_at)
                .arg(self.keys.owner_prefix())
                .arg(self.index_ttl(ttl_ms));
            self.update_index(index).await;
        }
        Ok(touched > 0)
    }

    async fn destroy(&self, id: &SessionId) -> Result<bool> {
        let mut invocation = self.session_script(&self.scripts.destroy, id);
        invocation.arg(id.as_str()).arg(self.keys.owner_prefix());
        let deleted: i64 = self.run(invocation).await?;
        if self.conn.is_cluster() {
            // Even when the record was already gone (Redis expired it), its index entries
            // may remain: drop them now rather than at the next GC.
            let mut index = self.index_script(&self.scripts.index_del);
            index.arg(id.as_str()).arg(self.keys.owner_prefix());
            self.update_index(index).await;
        }
        Ok(deleted > 0)
    }

    async fn count(&self, now: Millis) -> Result<u64> {
        let window_start = now.saturating_sub(MAX_SLACK_MS);
        if !self.conn.is_cluster() {
            let mut invocation = self.scripts.count.prepare_invoke();
            invocation
                .key(self.keys.index())
                .arg(now)
                .arg(window_start)
                .arg(self.keys.prefix());
            return self.run(invocation).await;
        }
        let above: u64 = self
            .query(
                redis::cmd("ZCOUNT")
                    .arg(self.keys.index())
                    .arg(format!("({now}"))
                    .arg("+inf"),
            )
            .await?;
        // Scores may lag their records by up to one slack: the entries just below `now` are
        // checked against their records' stored expiry, each in its own slot.
        let lagging: Vec<String> = self
            .query(
                redis::cmd("ZRANGEBYSCORE")
                    .arg(self.keys.index())
                    .arg(format!("({window_start}"))
                    .arg(now),
            )
            .await?;
        let live = try_join_all(lagging.iter().map(|id| async move {
            let expires_at: Option<String> = self
                .query(redis::cmd("HGET").arg(self.keys.session(id)).arg("e"))
                .await?;
            Ok::<_, Error>(
                expires_at
                    .and_then(|e| e.parse::<Millis>().ok())
                    .is_some_and(|e| e > now),
            )
        }))
        .await?;
        Ok(above + live.iter().filter(|live| **live).count() as u64)
    }

    async fn gc(&self, now: Millis) -> Result<u64> {
        if self.conn.is_cluster() {
            self.gc_cluster(now).await
        } else {
            self.gc_single(now).await
        }
    }

    async fn owner_sessions(&self, owner: &str, now: Millis) -> Result<Vec<SessionId>> {
        let ids: Vec<String> = self
            .query(
                redis::cmd("ZRANGEBYSCORE")
                    .arg(self.keys.owner(owner))
                    .arg(format!("({}", now.saturating_sub(MAX_SLACK_MS)))
                    .arg("+inf"),
            )
            .await?;
        // The index is a hint: on a cluster it is updated after the record, and a score may
        // lag its record's expiry by up to one slack (hence the wider window), so each listed
        // session is confirmed against its record (owner and expiry) before it is returned.
        let records = try_join_all(ids.iter().map(|id| async move {
            self.query::<(Option<String>, Option<String>)>(
                redis::cmd("HMGET")
                    .arg(self.keys.session(id))
                    .arg("o")
                    .arg("e"),
            )
            .await
        }))
        .await?;
        let mut seen = HashSet::new();
        let mut live = Vec::new();
        for (id, (stored_owner, expires_at)) in ids.iter().zip(records) {
            let alive = expires_at
                .and_then(|e| e.parse::<Millis>().ok())
                .is_some_and(|e| e > now);
            if alive
                && stored_owner.as_deref() == Some(owner)
                && seen.insert(id.as_str())
                && let Ok(parsed) = SessionId::parse_any(id)
            {
                live.push(parsed);
            }
        }
        Ok(live)
    }
}
