//! [`SqlStore`]: a session store in one SQL table, written once for every dialect.

use std::fmt;
use std::future::Future;

use async_trait::async_trait;
use session_core::{
    Capabilities, Error, Inserted, Millis, Moved, ProviderContext, RawStore, Result, Saved,
    SessionId, Stored, Version, Write,
};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Type};

use crate::config::SqlConfig;
use crate::dialect::{Dialect, GC_BATCH, Statements};
use crate::name::TableName;
use crate::pool::{ConnectionManager, Lease, Pool};

/// Sessions in one SQL table, through a pool of sqlx connections; each operation is one
/// statement unless the dialect says otherwise.
pub struct SqlStore<D: Dialect> {
    pool: Pool<D>,
    table: TableName<D>,
    max_record_size: usize,
    /// How far the GC mark (`gc_after`) may lag the expiry before a write resets it, so that
    /// most saves leave the indexed column alone.
    slack: Millis,
    sql: Statements,
    state: D::State,
}

impl<D: Dialect> fmt::Debug for SqlStore<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStore")
            .field("provider", &D::NAME)
            .field("table", &self.table)
            .field("pool_size", &self.pool.status().max_size)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<D: Dialect> SqlStore<D> {
    /// Connects with `config` and creates the table if it is missing.
    ///
    /// Fails fast: an unreachable server is an [`Error::Backend`] here, after at most the
    /// acquire timeout, rather than on the first request.
    pub async fn open(config: SqlConfig<D>, ctx: &ProviderContext) -> Result<Self> {
        let pool = ConnectionManager::new(config.connect, config.acquire_timeout)
            .into_pool(config.pool_size)?;
        Self::from_pool(pool, config.table, ctx).await
    }

    /// Uses an existing pool (its manager's acquire timeout bounds how long a request waits
    /// when the database is down) and creates the table if it is missing.
    pub async fn from_pool(
        pool: Pool<D>,
        table: TableName<D>,
        ctx: &ProviderContext,
    ) -> Result<Self> {
        let state = D::open(&pool, &table, ctx).await?;
        Ok(SqlStore {
            sql: D::statements(&table),
            pool,
            table,
            max_record_size: ctx.max_record_size,
            slack: session_core::index_slack(ctx.max_lifetime_ms),
            state,
        })
    }

    /// The connection pool.
    pub fn pool(&self) -> &Pool<D> {
        &self.pool
    }

    /// The session table.
    pub fn table(&self) -> &TableName<D> {
        &self.table
    }

    /// What the dialect learnt when the store was opened.
    pub fn state(&self) -> &D::State {
        &self.state
    }

    /// The lowest GC mark a write of `expires_at` keeps (see
    /// [`gc_after_update`](crate::gc_after_update)): the expiry minus the store's slack
    /// ([`session_core::index_slack`] of the idle lifetime), saturating.
    pub fn gc_floor(&self, expires_at: Millis) -> Millis {
        expires_at.saturating_sub(self.slack)
    }

    /// Checks a record before it is written, so a value the table cannot hold is a typed
    /// error rather than a database error.
    fn check(&self, record: &Write<'_>) -> Result<()> {
        if record.body.len() > self.max_record_size {
            return Err(Error::TooLarge {
                size: record.body.len(),
                limit: self.max_record_size,
            });
        }
        record.owner.map_or(Ok(()), D::check_owner)
    }
}

/// Runs `batch_step` (one GC statement that deletes at most `batch` expired rows and returns
/// how many it deleted) until a batch comes back short; returns the total deleted.
///
/// Small batches keep each statement's locks and log writes short. A short batch means
/// nothing expired is left, or the rest is locked by requests touching it right now: those
/// are being refreshed, not garbage.
async fn gc_in_batches<F: Future<Output = Result<u64>>>(
    batch: u64,
    mut batch_step: impl FnMut() -> F,
) -> Result<u64> {
    let mut removed = 0u64;
    loop {
        let deleted = batch_step().await?;
        removed = removed.saturating_add(deleted);
        if deleted < batch {
            return Ok(removed);
        }
    }
}

/// The session IDs in `rows` (one column of IDs read from `table`). A value that is not a
/// well-formed ID, which only something other than the provider can have written, is skipped
/// with a warning rather than failing the whole query.
fn session_ids(rows: Vec<(String,)>, table: &dyn fmt::Display) -> Vec<SessionId> {
    rows.into_iter()
        .filter_map(|(id,)| {
            SessionId::parse_any(&id)
                .inspect_err(|_| {
                    tracing::warn!(table = %table, "skipping a malformed session id");
                })
                .ok()
        })
        .collect()
}

// The bounds are what the shared statements bind and decode. Every sqlx driver meets them,
// but sqlx implements them per driver rather than promising them on `Database`.
#[async_trait]
impl<D: Dialect> RawStore for SqlStore<D>
where
    for<'c> &'c mut D::Connection: Executor<'c, Database = D::Database>,
    <D::Database as Database>::Arguments: IntoArguments<D::Database>,
    usize: ColumnIndex<<D::Database as Database>::Row>,
    for<'q> &'q str: Encode<'q, D::Database> + Type<D::Database>,
    for<'r> String: Decode<'r, D::Database> + Type<D::Database>,
    for<'q, 'r> i64: Encode<'q, D::Database> + Decode<'r, D::Database> + Type<D::Database>,
    for<'r> i32: Decode<'r, D::Database> + Type<D::Database>,
    for<'r> Vec<u8>: Decode<'r, D::Database> + Type<D::Database>,
    for<'r> D::Version: Decode<'r, D::Database> + Type<D::Database>,
{
    fn provider(&self) -> &'static str {
        D::NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }

    async fn read(&self, id: &SessionId) -> Result<Option<Stored>> {
        let row: Option<(Vec<u8>, D::Version, i64)> = Lease::run(&self.pool, async |conn| {
            sqlx::query_as(self.sql.read.clone())
                .bind(id.as_str())
                .fetch_optional(conn)
                .await
        })
        .await?;
        Ok(row.map(|(body, version, expires_at)| Stored {
            body: body.into(),
            version: D::version(version),
            expires_at,
        }))
    }

    async fn exist(&self, id: &SessionId) -> Result<bool> {
        let row: Option<(i32,)> = Lease::run(&self.pool, async |conn| {
            sqlx::query_as(self.sql.exist.clone())
                .bind(id.as_str())
                .fetch_optional(conn)
                .await
        })
        .await?;
        Ok(row.is_some())
    }

    async fn insert(&self, id: &SessionId, record: Write<'_>) -> Result<Inserted> {
        self.check(&record)?;
        let version = Version::random(D::NAME)?;
        D::insert(self, id, record, version).await
    }

    async fn save(&self, id: &SessionId, expected: Version, record: Write<'_>) -> Result<Saved> {
        self.check(&record)?;
        D::save(self, id, expected, record).await
    }

    async fn touch(&self, id: &SessionId, expires_at: Millis, _ttl_ms: Millis) -> Result<bool> {
        let done = Lease::run(&self.pool, async |conn| {
            sqlx::query(self.sql.touch.clone())
                .bind(expires_at)
                .bind(expires_at)
                .bind(self.gc_floor(expires_at))
                .bind(expires_at)
                .bind(id.as_str())
                .execute(conn)
                .await
        })
        .await?;
        Ok(D::rows_affected(&done) > 0)
    }

    async fn destroy(&self, id: &SessionId) -> Result<bool> {
        let done = Lease::run(&self.pool, async |conn| {
            sqlx::query(self.sql.destroy.clone())
                .bind(id.as_str())
                .execute(conn)
                .await
        })
        .await?;
        Ok(D::rows_affected(&done) > 0)
    }

    async fn regenerate(
        &self,
        old: &SessionId,
        expected: Version,
        new: &SessionId,
        record: Write<'_>,
    ) -> Result<Moved> {
        self.check(&record)?;
        let version = Version::random(D::NAME)?;
        D::regenerate(self, old, expected, new, record, version).await
    }

    async fn count(&self, now: Millis) -> Result<u64> {
        let (n,): (i64,) = Lease::run(&self.pool, async |conn| {
            sqlx::query_as(self.sql.count.clone())
                .bind(now)
                .fetch_one(conn)
                .await
        })
        .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn gc(&self, now: Millis) -> Result<u64> {
        gc_in_batches(GC_BATCH, || async move {
            let done = Lease::run(&self.pool, async |conn| {
                sqlx::query(self.sql.gc.clone())
                    .bind(now)
                    .bind(now)
                    .execute(conn)
                    .await
            })
            .await?;
            Ok(D::rows_affected(&done))
        })
        .await
    }

    async fn owner_sessions(&self, owner: &str, now: Millis) -> Result<Vec<SessionId>> {
        let rows: Vec<(String,)> = Lease::run(&self.pool, async |conn| {
            sqlx::query_as(self.sql.owner.clone())
                .bind(owner)
                .bind(now)
                .fetch_all(conn)
                .await
        })
        .await?;
        Ok(session_ids(rows, &self.table))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn gc_stops_at_the_first_short_batch() {
        let mut batches = vec![10, 10, 3, 10].into_iter();
        let mut calls = 0;
        let removed = gc_in_batches(10, || {
            calls += 1;
            std::future::ready(Ok(batches.next().unwrap()))
        })
        .await
        .unwrap();
        assert_eq!((removed, calls), (23, 3));
    }

    #[tokio::test]
    async fn gc_stops_at_the_first_error() {
        let mut calls = 0;
        let result = gc_in_batches(10, || {
            calls += 1;
            std::future::ready(if calls == 1 {
                Ok(10)
            } else {
                Err(session_core::Error::backend("test", "down"))
            })
        })
        .await;
        assert!(result.unwrap_err().is_backend());
        assert_eq!(calls, 2);
    }

    #[test]
    fn malformed_ids_are_skipped() {
        let good = SessionId::generate(32).unwrap();
        let rows = vec![
            (good.as_str().to_owned(),),
            ("../etc/passwd".to_owned(),),
            (String::new(),),
        ];
        assert_eq!(session_ids(rows, &"sessions"), [good]);
    }
}
