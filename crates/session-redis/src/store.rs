//! [`RedisStore`]: the [`RawStore`] over a Redis connection.

use std::collections::HashSet;

use async_trait::async_trait;
use futures_util::future::try_join_all;
use redis::{RedisError, Script};
use session_core::{
    Capabilities, Error, Inserted, MAX_INDEX_SLACK_MS, Millis, ProviderContext, RawStore, Result,
    Saved, SessionId, Stored, Version, Write,
};

use crate::NAME;
use crate::config::RedisConfig;
use crate::conn::Conn;
use crate::keys::Keys;
use crate::near::NearCache;
use crate::record;
use crate::scripts::{ScriptCall, Scripts, WRITTEN_INDEX_PENDING};

/// How many index entries one GC step looks at.
const GC_BATCH: usize = 500;

/// What a write script answers: a bare code, or `{code, moved, old owner, old owner's
/// shard}` when the store has index work left (see `scripts.rs`).
struct Outcome {
    code: i64,
    moved: bool,
    owner: String,
    shard: i64,
}

impl redis::FromRedisValue for Outcome {
    fn from_redis_value(v: redis::Value) -> std::result::Result<Self, redis::ParsingError> {
        if let redis::Value::Int(code) = v {
            return Ok(Outcome {
                code,
                moved: false,
                owner: String::new(),
                shard: -1,
            });
        }
        let (code, moved, owner, shard): (i64, i64, String, i64) = redis::from_redis_value(v)?;
        Ok(Outcome {
            code,
            moved: moved == 1,
            owner,
            shard,
        })
    }
}

/// Sessions in Redis: one string per session, an expiry index in 16
/// shards for count and GC, and an owner index. See the crate docs for the layout and the
/// consistency it gives on a cluster.
pub struct RedisStore {
    pub(crate) conn: Conn,
    pub(crate) keys: Keys,
    pub(crate) scripts: Scripts,
    /// Saves skip the index unless the expiry moved at least this far (ms); see the scripts
    /// module docs.
    slack: Millis,
    /// The opt-in near cache (`near_cache=N`).
    near: Option<NearCache>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.keys.prefix())
            .field("cluster", &self.conn.is_cluster())
            .finish()
    }
}

pub(crate) fn backend(e: RedisError) -> Error {
    Error::backend(NAME, e)
}

/// The owner-set prune cutoff for a write with this expiry and TTL: entries scored below the
/// writer's `now` minus the largest slack belong to records that have expired.
fn prune_cutoff(expires_at: Millis, ttl_ms: Millis) -> Millis {
    expires_at
        .saturating_sub(ttl_ms)
        .saturating_sub(MAX_INDEX_SLACK_MS)
}

fn owner_of(owner: &str, shard: i64) -> Option<(&str, usize)> {
    usize::try_from(shard).ok().map(|shard| (owner, shard))
}

impl RedisStore {
    /// Connects as `config` says and loads the scripts (on every master of a cluster), so a
    /// wrong address or password fails here, not on the first request. The index slack is a
    /// tenth of `ctx.max_lifetime_ms`, at most 60 s (see "Commands per write" in the crate
    /// docs).
    pub async fn open(config: RedisConfig, ctx: &ProviderContext) -> Result<RedisStore> {
        config.validate()?;
        let conn = Conn::open(&config).await.map_err(backend)?;
        let near = match crate::conn::tracking_client(&config).map_err(backend)? {
            Some((client, settings)) if config.near_cache > 0 => Some(NearCache::new(
                client,
                settings,
                &config.prefix,
                config.near_cache,
            )),
            _ => None,
        };
        let store = RedisStore {
            conn,
            keys: Keys::new(&config.prefix),
            scripts: Scripts::new(),
            slack: session_core::index_slack(ctx.max_lifetime_ms),
            near,
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
            script.load_async(&mut conn).await.map_err(backend)?;
        }
        Ok(())
    }

    /// Sends a script call; when the server does not know the script (restarted, flushed,
    /// failed over), loads it and sends the call again.
    async fn call<T: redis::FromRedisValue>(&self, call: ScriptCall<'_>) -> Result<T> {
        match self.conn.query(&call.cmd).await {
            Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                let mut conn = self.conn.clone();
                call.script.load_async(&mut conn).await.map_err(backend)?;
                self.conn.query(&call.cmd).await.map_err(backend)
            }
            answer => answer.map_err(backend),
        }
    }

    pub(crate) async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T> {
        self.conn.query(cmd).await.map_err(backend)
    }

    /// Prepares a session script: on a single server the index shard and the new owner's
    /// set (if any) ride along, so the script updates record and index atomically; on a
    /// cluster the script gets the session's key only. `bytes`: about how many bytes the
    /// arguments take.
    fn session_script<'a>(
        &self,
        script: &'a Script,
        id: &SessionId,
        owner_set: Option<&str>,
        bytes: usize,
    ) -> ScriptCall<'a> {
        let session = self.keys.session_of(id);
        if self.conn.is_cluster() {
            return ScriptCall::new(script, &[&session], bytes);
        }
        let index = self.keys.index_of(id.as_str());
        match owner_set {
            Some(set) => ScriptCall::new(script, &[&session, index, set], bytes),
            None => ScriptCall::new(script, &[&session, index], bytes),
        }
    }

    /// The TTL index keys need for a session write with this `ttl_ms`: the record's own
    /// plus the slack, since later saves may push the record's TTL that far without touching
    /// the index.
    fn index_ttl(&self, ttl_ms: Millis) -> Millis {
        ttl_ms.max(1).saturating_add(self.slack)
    }

    /// Adds `id` to a sorted set in its own slot (cluster index side), pruning dead entries
    /// first when `cutoff` is given (owner sets).
    async fn add_to(
        &self,
        set: String,
        id: &str,
        score: Millis,
        ttl: Millis,
        cutoff: Option<Millis>,
    ) -> Result<()> {
        let mut invocation = ScriptCall::new(&self.scripts.add, &[&set], id.len() + 32);
        invocation
            .arg(score)
            .arg(id)
            .arg(ttl)
            .arg(cutoff.map(|c| c.to_string()).unwrap_or_default());
        self.call::<i64>(invocation).await.map(drop)
    }

    async fn remove_from(&self, set: String, id: &str) -> Result<()> {
        self.query::<i64>(redis::cmd("ZREM").arg(set).arg(id))
            .await
            .map(drop)
    }

    /// The index updates a cluster write leaves to the store, all in flight at once: the
    /// expiry score (when `moved`), the old owner's set (left) and the new one's (joined or
    /// rescored). A failure is logged, not returned: the session operation itself is done
    /// and must not be reported (and retried) as failed; the index catches up on the
    /// session's next write or touch, or at GC (see the crate docs on consistency).
    async fn update_index(
        &self,
        id: &str,
        expires_at: Millis,
        ttl_ms: Millis,
        moved: bool,
        old: Option<(&str, usize)>,
        new: Option<&str>,
    ) {
        let ttl = self.index_ttl(ttl_ms);
        let mut steps = Vec::new();
        if moved {
            steps.push(futures_util::future::Either::Left(self.add_to(
                self.keys.index_of(id).to_owned(),
                id,
                expires_at,
                ttl,
                None,
            )));
        }
        let changed = old.map(|(o, _)| o) != new;
        if let Some((old, shard)) = old
            && changed
        {
            steps.push(futures_util::future::Either::Right(
                self.remove_from(self.keys.owner_in(shard, old), id),
            ));
        }
        if let Some(owner) = new
            && (moved || changed)
        {
            let (set, _) = self.keys.owner(owner);
            steps.push(futures_util::future::Either::Left(self.add_to(
                set,
                id,
                expires_at,
                ttl,
                Some(prune_cutoff(expires_at, ttl_ms)),
            )));
        }
        if let Err(e) = try_join_all(steps).await {
            tracing::warn!(provider = NAME, error = %e, "redis session index update failed; the index lags until the next write or GC");
        }
    }

    async fn insert_cluster(
        &self,
        id: &SessionId,
        value: &[u8],
        record: &Write<'_>,
    ) -> Result<bool> {
        let created: Option<String> = self
            .query(
                redis::cmd("SET")
                    .arg(self.keys.session_of(id))
                    .arg(value)
                    .arg("PX")
                    .arg(record.ttl_ms.max(1))
                    .arg("NX"),
            )
            .await?;
        if created.is_some() {
            self.update_index(
                id.as_str(),
                record.expires_at,
                record.ttl_ms,
                true,
                None,
                record.owner,
            )
            .await;
        }
        Ok(created.is_some())
    }

    async fn gc_single(&self, now: Millis) -> Result<u64> {
        let mut removed = 0u64;
        loop {
            let mut invocation =
                ScriptCall::new(&self.scripts.gc_inline, &self.keys.index_names(), 64);
            invocation.arg(now).arg(GC_BATCH).arg(self.keys.prefix());
            let (seen, gone): (usize, u64) = self.call(invocation).await?;
            removed += gone;
            if seen < GC_BATCH {
                return Ok(removed);
            }
        }
    }

    async fn gc_cluster(&self, now: Millis) -> Result<u64> {
        let removed = try_join_all(
            self.keys
                .indexes()
                .iter()
                .map(|index| self.gc_shard(index, now)),
        )
        .await?;
        Ok(removed.into_iter().sum())
    }

    /// GC of one index shard on a cluster: each record is checked and deleted in its own
    /// slot (all in flight at once), then one script on the shard drops the entries of the
    /// deleted ones and raises the scores of the kept ones, and the deleted sessions leave
    /// their owners' sets.
    async fn gc_shard(&self, index: &str, now: Millis) -> Result<u64> {
        let mut removed = 0u64;
        loop {
            let ids: Vec<String> = self
                .query(
                    redis::cmd("ZRANGEBYSCORE")
                        .arg(index)
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
            let checked = try_join_all(ids.iter().map(|id| async move {
                let mut invocation =
                    ScriptCall::new(&self.scripts.gc_record, &[&self.keys.session(id)], 16);
                invocation.arg(now);
                self.call::<(String, String, i64)>(invocation).await
            }))
            .await?;
            let mut invocation = ScriptCall::new(&self.scripts.index_gc, &[index], 64 * ids.len());
            invocation.arg(now);
            for (id, (expiry, _, _)) in ids.iter().zip(&checked) {
                invocation.arg(id.as_str()).arg(expiry.as_str());
            }
            removed += self.call::<u64>(invocation).await?;
            try_join_all(
                ids.iter()
                    .zip(&checked)
                    .filter_map(|(id, (_, owner, shard))| {
                        let (owner, shard) = owner_of(owner, *shard)?;
                        Some(self.remove_from(self.keys.owner_in(shard, owner), id))
                    }),
            )
            .await?;
            if ids.len() < GC_BATCH {
                return Ok(removed);
            }
        }
    }

    /// On a cluster: the live entries of one shard (scores above `now`, plus those in the
    /// slack window below it whose record still lives).
    async fn count_shard(&self, index: &str, now: Millis) -> Result<u64> {
        let window_start = now.saturating_sub(MAX_INDEX_SLACK_MS);
        let mut above = redis::cmd("ZCOUNT");
        above.arg(index).arg(format!("({now}")).arg("+inf");
        let mut lagging = redis::cmd("ZRANGEBYSCORE");
        lagging.arg(index).arg(format!("({window_start}")).arg(now);
        let (above, lagging) = futures_util::future::try_join(
            self.query::<u64>(&above),
            self.query::<Vec<String>>(&lagging),
        )
        .await?;
        let live = try_join_all(lagging.iter().map(|id| async move {
            let expiry: Vec<u8> = self
                .query(
                    redis::cmd("GETRANGE")
                        .arg(self.keys.session(id))
                        .arg(record::EXPIRES_AT)
                        .arg(record::OWNER_SHARD - 1),
                )
                .await?;
            Ok::<_, Error>(record::expiry(&expiry).is_some_and(|e| e > now))
        }))
        .await?;
        Ok(above + live.iter().filter(|live| **live).count() as u64)
    }
}

/// The writes themselves; the [`RawStore`] methods wrap them so the near cache forgets the
/// session whatever the outcome.
impl RedisStore {
    /// Drops `id` from the near cache after a write of this store (success or not: a failed
    /// write may still have reached Redis).
    fn forget(&self, id: &SessionId) {
        if let Some(near) = &self.near {
            near.forget(id);
        }
    }

    /// A fresh version, the stored value of `record` under it, and the key of its owner's
    /// set. Versions are random, not a per-key counter: unique across deletes and re-creates.
    fn encode(&self, record: &Write<'_>) -> Result<(Version, Vec<u8>, Option<String>)> {
        let version = Version::random(NAME)?;
        let (owner_set, owner) = match record.owner {
            Some(owner) => {
                let (set, shard) = self.keys.owner(owner);
                (Some(set), Some((shard, owner)))
            }
            None => (None, None),
        };
        let value = record::encode(version, record.expires_at, owner, record.body)?;
        Ok((version, value, owner_set))
    }

    async fn insert_record(&self, id: &SessionId, record: Write<'_>) -> Result<Inserted> {
        let (version, value, owner_set) = self.encode(&record)?;
        let created = if self.conn.is_cluster() {
            self.insert_cluster(id, &value, &record).await?
        } else {
            let mut invocation = self.session_script(
                &self.scripts.insert,
                id,
                owner_set.as_deref(),
                value.len() + id.as_str().len(),
            );
            invocation
                .arg(value)
                .arg(record.ttl_ms.max(1))
                .arg(record.expires_at)
                .arg(id.as_str())
                .arg(self.index_ttl(record.ttl_ms))
                .arg(prune_cutoff(record.expires_at, record.ttl_ms));
            self.call::<i64>(invocation).await? == 1
        };
        Ok(if created {
            Inserted::Created(version)
        } else {
            Inserted::Exists
        })
    }

    async fn save_record(
        &self,
        id: &SessionId,
        expected: Version,
        record: Write<'_>,
    ) -> Result<Saved> {
        let (version, value, owner_set) = self.encode(&record)?;
        let mut invocation = self.session_script(
            &self.scripts.save,
            id,
            owner_set.as_deref(),
            2 * value.len() + id.as_str().len() + self.keys.prefix().len(),
        );
        // The owner part of the header (shard, length, owner): the script compares the stored
        // one with it to see whether the owner changed.
        let owner_end = record::FIXED + record.owner.map_or(0, str::len);
        invocation
            .arg(&value[..])
            .arg(record.expires_at)
            .arg(record.ttl_ms.max(1))
            .arg(&expected.0.to_be_bytes()[..])
            .arg(self.slack.max(1))
            .arg(self.index_ttl(record.ttl_ms))
            .arg(id.as_str())
            .arg(&value[record::OWNER_SHARD..owner_end])
            .arg(self.keys.prefix())
            .arg(prune_cutoff(record.expires_at, record.ttl_ms));
        let outcome: Outcome = self.call(invocation).await?;
        if outcome.code == WRITTEN_INDEX_PENDING {
            self.update_index(
                id.as_str(),
                record.expires_at,
                record.ttl_ms,
                outcome.moved,
                owner_of(&outcome.owner, outcome.shard),
                record.owner,
            )
            .await;
        }
        Ok(match outcome.code {
            1 | WRITTEN_INDEX_PENDING => Saved::Saved(version),
            0 => Saved::Conflict,
            _ => Saved::Missing,
        })
    }

    async fn touch_record(
        &self,
        id: &SessionId,
        expires_at: Millis,
        ttl_ms: Millis,
    ) -> Result<bool> {
        let mut invocation = self.session_script(
            &self.scripts.touch,
            id,
            None,
            id.as_str().len() + self.keys.prefix().len(),
        );
        invocation
            .arg(&record::millis_bytes(expires_at)[..])
            .arg(ttl_ms.max(1))
            .arg(expires_at)
            .arg(id.as_str())
            .arg(self.index_ttl(ttl_ms))
            .arg(self.keys.prefix());
        let outcome: Outcome = self.call(invocation).await?;
        if outcome.code == WRITTEN_INDEX_PENDING {
            // The owner stays: its set only gets the new score.
            let owner = owner_of(&outcome.owner, outcome.shard);
            self.update_index(
                id.as_str(),
                expires_at,
                ttl_ms,
                true,
                owner,
                owner.map(|(o, _)| o),
            )
            .await;
        }
        Ok(outcome.code > 0)
    }

    async fn destroy_record(&self, id: &SessionId) -> Result<bool> {
        let mut invocation = self.session_script(
            &self.scripts.destroy,
            id,
            None,
            id.as_str().len() + self.keys.prefix().len(),
        );
        invocation.arg(id.as_str()).arg(self.keys.prefix());
        let Outcome {
            code: deleted,
            owner,
            shard,
            ..
        } = self.call(invocation).await?;
        if self.conn.is_cluster() {
            // Even when the record was already gone (Redis expired it), its index entry may
            // remain: drop it now rather than at the next GC.
            let index = self.remove_from(self.keys.index_of(id.as_str()).to_owned(), id.as_str());
            let owner = async {
                match owner_of(&owner, shard) {
                    Some((owner, shard)) => {
                        self.remove_from(self.keys.owner_in(shard, owner), id.as_str())
                            .await
                    }
                    None => Ok(()),
                }
            };
            if let Err(e) = futures_util::future::try_join(index, owner).await {
                tracing::warn!(provider = NAME, error = %e, "redis session index update failed; the index lags until GC");
            }
        }
        Ok(deleted > 0)
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
        if let Some(near) = &self.near {
            // Boxed: the near cache's read (a miss: hits are `read_in_memory`) is the larger
            // future, and this one is copied into its own box on every read.
            return Box::pin(near.read(&self.keys.session_of(id), id)).await;
        }
        // Sized up front: `redis::cmd` grows its buffers argument by argument.
        let mut get = redis::Cmd::with_capacity(2, 3 + self.keys.session_len(id.as_str()));
        get.arg("GET").arg(self.keys.session_arg(id.as_str()));
        let value: Option<Vec<u8>> = self.query(&get).await?;
        value.map(record::decode).transpose()
    }

    fn read_in_memory(&self, id: &str) -> Option<Result<Option<(SessionId, Stored)>>> {
        self.near.as_ref()?.get(id).map(|found| Ok(Some(found)))
    }

    async fn exist(&self, id: &SessionId) -> Result<bool> {
        self.query(redis::cmd("EXISTS").arg(self.keys.session_of(id)))
            .await
    }

    async fn insert(&self, id: &SessionId, record: Write<'_>) -> Result<Inserted> {
        let inserted = self.insert_record(id, record).await;
        self.forget(id);
        inserted
    }

    async fn save(&self, id: &SessionId, expected: Version, record: Write<'_>) -> Result<Saved> {
        let saved = self.save_record(id, expected, record).await;
        self.forget(id);
        saved
    }

    async fn touch(&self, id: &SessionId, expires_at: Millis, ttl_ms: Millis) -> Result<bool> {
        let touched = self.touch_record(id, expires_at, ttl_ms).await;
        self.forget(id);
        touched
    }

    async fn destroy(&self, id: &SessionId) -> Result<bool> {
        let destroyed = self.destroy_record(id).await;
        self.forget(id);
        destroyed
    }

    async fn count(&self, now: Millis) -> Result<u64> {
        if self.conn.is_cluster() {
            let shards = try_join_all(
                self.keys
                    .indexes()
                    .iter()
                    .map(|index| self.count_shard(index, now)),
            )
            .await?;
            return Ok(shards.into_iter().sum());
        }
        let mut invocation = ScriptCall::new(&self.scripts.count, &self.keys.index_names(), 64);
        invocation
            .arg(now)
            .arg(now.saturating_sub(MAX_INDEX_SLACK_MS))
            .arg(self.keys.prefix());
        self.call(invocation).await
    }

    async fn gc(&self, now: Millis) -> Result<u64> {
        if self.conn.is_cluster() {
            self.gc_cluster(now).await
        } else {
            self.gc_single(now).await
        }
    }

    async fn owner_sessions(&self, owner: &str, now: Millis) -> Result<Vec<SessionId>> {
        let (set, _) = self.keys.owner(owner);
        let ids: Vec<String> = self
            .query(
                redis::cmd("ZRANGEBYSCORE")
                    .arg(set)
                    .arg(format!("({}", now.saturating_sub(MAX_INDEX_SLACK_MS)))
                    .arg("+inf"),
            )
            .await?;
        // The index is a hint: on a cluster it is updated after the record, and a score may
        // lag its record's expiry by up to one slack (hence the wider window), so each listed
        // session is confirmed against its record's header (owner and expiry).
        let headers = try_join_all(ids.iter().map(|id| async move {
            self.query::<Vec<u8>>(
                redis::cmd("GETRANGE")
                    .arg(self.keys.session(id))
                    .arg(0)
                    .arg(record::FIXED + owner.len() - 1),
            )
            .await
        }))
        .await?;
        let mut seen = HashSet::new();
        let mut live = Vec::new();
        for (id, header) in ids.iter().zip(headers) {
            let alive =
                record::header(&header).is_ok_and(|h| h.owner == Some(owner) && h.expires_at > now);
            if alive
                && seen.insert(id.as_str())
                && let Ok(parsed) = SessionId::parse_any(id)
            {
                live.push(parsed);
            }
        }
        Ok(live)
    }
}
