//! [`PostgresStore`]: the session operations, each one SQL statement.

use std::sync::Arc;

use async_trait::async_trait;
use session_core::{
    Capabilities, Error, Inserted, Millis, ProviderContext, RawStore, Result, Saved, SessionId,
    Stored, Version, Write,
};
use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection, SqlSafeStr, SqlStr};

use crate::NAME;
use crate::config::PgConfig;
use crate::pool::{ConnectionManager, Lease, Pool};
use crate::table::{TableName, schema_for};

/// Rows deleted per GC statement: small enough to keep locks and WAL bursts short.
pub const GC_BATCH: i64 = 1000;

/// BYTEA holds at most 1 GiB.
const MAX_BYTEA: usize = 1 << 30;

/// Sessions in one PostgreSQL table, through a pool of sqlx connections.
pub struct PostgresStore {
    pool: Pool,
    table: TableName,
    max_record_size: usize,
    sql: Statements,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("table", &self.table)
            .field("pool_size", &self.pool.status().max_size)
            .finish_non_exhaustive()
    }
}

/// The statements for one table, built once (the table name is validated and quoted) and
/// shared cheaply: sqlx keeps one prepared statement per SQL text and connection.
struct Statements {
    read: SqlStr,
    exist: SqlStr,
    insert: SqlStr,
    save: SqlStr,
    touch: SqlStr,
    destroy: SqlStr,
    count: SqlStr,
    gc: SqlStr,
    owner: SqlStr,
}

fn sql(text: String) -> SqlStr {
    // Only ever called with statements built from a `TableName`, which admits ASCII letters,
    // digits and `_` and is double-quoted: nothing user-supplied reaches the text unchecked.
    AssertSqlSafe(Arc::<str>::from(text)).into_sql_str()
}

impl Statements {
    fn new(table: &TableName) -> Self {
        let t = table.quoted();
        Statements {
            read: sql(format!(
                "SELECT data, version, expires_at FROM {t} WHERE id = $1"
            )),
            exist: sql(format!("SELECT 1 FROM {t} WHERE id = $1")),
            insert: sql(format!(
                "INSERT INTO {t} (id, data, expires_at, version, owner) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING"
            )),
            // The CTE's outer query sees the snapshot from before the UPDATE, so `present`
            // tells a stale version (Conflict) from a missing row in the same round trip.
            save: sql(format!(
                "WITH updated AS (\
                     UPDATE {t} SET data = $3, expires_at = $4, owner = $5, version = version + 1 \
                     WHERE id = $1 AND version = $2 RETURNING version) \
                 SELECT (SELECT version FROM updated), EXISTS (SELECT 1 FROM {t} WHERE id = $1)"
            )),
            touch: sql(format!("UPDATE {t} SET expires_at = $2 WHERE id = $1")),
            destroy: sql(format!("DELETE FROM {t} WHERE id = $1")),
            count: sql(format!("SELECT count(*) FROM {t} WHERE expires_at > $1")),
            // The outer `expires_at <= $1` is re-checked on the newest row version when a
            // concurrent touch committed meanwhile, so a refreshed session is never deleted;
            // SKIP LOCKED lets GC pass over rows a request is writing instead of waiting.
            gc: sql(format!(
                "DELETE FROM {t} WHERE expires_at <= $1 AND id IN (\
                     SELECT id FROM {t} WHERE expires_at <= $1 \
                     LIMIT {GC_BATCH} FOR UPDATE SKIP LOCKED)"
            )),
            owner: sql(format!(
                "SELECT id FROM {t} WHERE owner = $1 AND expires_at > $2"
            )),
        }
    }
}

impl PostgresStore {
    /// Connects with a parsed config and creates the table if it is missing.
    ///
    /// Fails fast: an unreachable server is an [`Error::Backend`] here, after at most the
    /// acquire timeout, rather than on the first request.
    pub async fn connect(config: PgConfig, ctx: &ProviderContext) -> Result<Self> {
        let pool = ConnectionManager::new(config.connect, config.acquire_timeout)
            .into_pool(config.pool_size)?;
        Self::from_pool(pool, config.table, ctx).await
    }

    /// Uses an existing pool (its manager's acquire timeout bounds how long a request waits
    /// when the database is down) and creates the table if it is missing.
    pub async fn from_pool(pool: Pool, table: TableName, ctx: &ProviderContext) -> Result<Self> {
        if ctx.max_record_size > MAX_BYTEA {
            return Err(Error::config(
                "max_record_size",
                format!(
                    "{} bytes is more than a PostgreSQL BYTEA holds ({MAX_BYTEA} bytes)",
                    ctx.max_record_size
                ),
            ));
        }
        create_schema(&pool, &table).await?;
        Ok(PostgresStore {
            sql: Statements::new(&table),
            pool,
            table,
            max_record_size: ctx.max_record_size,
        })
    }

    /// The connection pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The session table.
    pub fn table(&self) -> &TableName {
        &self.table
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
        if record.owner.is_some_and(|owner| owner.contains('\0')) {
            return Err(Error::Encode {
                key: "owner".into(),
                message: "PostgreSQL text cannot hold a NUL character".into(),
            });
        }
        Ok(())
    }
}

/// Creates the table and indexes under a transaction-scoped advisory lock, so several
/// application instances starting at once do not race on `CREATE TABLE IF NOT EXISTS` (which
/// is not safe against concurrent creation in PostgreSQL).
async fn create_schema(pool: &Pool, table: &TableName) -> Result<()> {
    let mut lease = Lease::acquire(pool).await?;
    // On an error the lease is dropped, closing the connection: the server then rolls back
    // and releases the lock at once rather than whenever the connection would next be used.
    create_schema_on(lease.conn()?, table)
        .await
        .map_err(backend)?;
    lease.release(Ok(())).map_err(backend)
}

async fn create_schema_on(conn: &mut PgConnection, table: &TableName) -> sqlx::Result<()> {
    let mut tx = conn.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind(format!("session-postgres:{}", table.quoted()))
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql(sql(schema_for(table)))
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

fn backend(e: sqlx::Error) -> Error {
    Error::backend(NAME, e)
}

/// Versions are BIGINT; the cast is a bijection between `i64` and `u64`, so a version read
/// back compares equal to the one handed out.
fn version(v: i64) -> Version {
    Version(v as u64)
}

fn column(v: Version) -> i64 {
    v.0 as i64
}

/// A statement creating row `id` (insert, regenerate), with its five row values bound as
/// `$1`..`$5`: id, body, expiry, version, owner. Statements add their own parameters after.
fn new_row<'q>(
    sql: SqlStr,
    id: &'q SessionId,
    record: &Write<'q>,
    v: Version,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(sql)
        .bind(id.as_str())
        .bind(record.body)
        .bind(record.expires_at)
        .bind(column(v))
        .bind(record.owner)
}

#[async_trait]
impl RawStore for PostgresStore {
    fn provider(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }

    async fn read(&self, id: &SessionId) -> Result<Option<Stored>> {
        let row: Option<(Vec<u8>, i64, i64)> = Lease::run(&self.pool, async |conn| {
            sqlx::query_as(self.sql.read.clone())
                .bind(id.as_str())
                .fetch_optional(conn)
                .await
        })
        .await?;
        Ok(row.map(|(body, v, expires_at)| Stored {
            body: body.into(),
            version: version(v),
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
        let v = Version::random(NAME)?;
        let done = Lease::run(&self.pool, async |conn| {
            new_row(self.sql.insert.clone(), id, &record, v)
                .execute(conn)
                .await
        })
        .await?;
        Ok(if done.rows_affected() == 1 {
            Inserted::Created(v)
        } else {
            Inserted::Exists
        })
    }

    async fn save(&self, id: &SessionId, expected: Version, record: Write<'_>) -> Result<Saved> {
        self.check(&record)?;
        let (saved, present): (Option<i64>, bool) = Lease::run(&self.pool, async |conn| {
            sqlx::query_as(self.sql.save.clone())
                .bind(id.as_str())
                .bind(column(expected))
                .bind(record.body)
                .bind(record.expires_at)
                .bind(record.owner)
                .fetch_one(conn)
                .await
        })
        .await?;
        Ok(match saved {
            Some(v) => Saved::Saved(version(v)),
            None if present => Saved::Conflict,
            None => Saved::Missing,
        })
    }

    async fn touch(&self, id: &SessionId, expires_at: Millis, _ttl_ms: Millis) -> Result<bool> {
        let done = Lease::run(&self.pool, async |conn| {
            sqlx::query(self.sql.touch.clone())
                .bind(id.as_str())
                .bind(expires_at)
                .execute(conn)
                .await
        })
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn destroy(&self, id: &SessionId) -> Result<bool> {
        let done = Lease::run(&self.pool, async |conn| {
            sqlx::query(self.sql.destroy.clone())
                .bind(id.as_str())
                .execute(conn)
                .await
        })
        .await?;
        Ok(done.rows_affected() > 0)
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
        session_sqlx::gc_in_batches(GC_BATCH.unsigned_abs(), || async move {
            let done = Lease::run(&self.pool, async |conn| {
                sqlx::query(self.sql.gc.clone())
                    .bind(now)
                    .execute(conn)
                    .await
            })
            .await?;
            Ok(done.rows_affected())
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
        Ok(session_sqlx::session_ids(rows, &self.table))
    }
}
