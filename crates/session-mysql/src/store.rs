//! [`MySqlStore`]: the session operations, and the guards that keep a non-strict `sql_mode`
//! from truncating a record.

use std::sync::Arc;

use async_trait::async_trait;
use session_core::{
    Capabilities, Error, Inserted, Millis, ProviderContext, RawStore, Result, Saved, SessionId,
    Stored, Version, Write,
};
use sqlx::mysql::MySqlConnection;
use sqlx::{AssertSqlSafe, Connection, SqlSafeStr, SqlStr};

use crate::NAME;
use crate::config::MySqlConfig;
use crate::pool::{ConnectionManager, Lease, Pool};
use crate::table::{MAX_OWNER_CHARS, TableName, schema_for};

/// Rows deleted per GC statement: small enough to keep row locks and binlog events short.
pub const GC_BATCH: u64 = 1000;

/// Room for the statement and the other parameters next to the record in one packet.
const PACKET_OVERHEAD: u64 = 16 * 1024;

/// Sessions in one MySQL/MariaDB table, through a pool of sqlx connections.
pub struct MySqlStore {
    pool: Pool,
    table: TableName,
    max_record_size: usize,
    /// Bytes the `data` column holds, read from `information_schema` at start-up (`None`
    /// when the server would not say). A record no longer than this cannot be truncated.
    data_capacity: Option<u64>,
    sql: Statements,
}

impl std::fmt::Debug for MySqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlStore")
            .field("table", &self.table)
            .field("data_capacity", &self.data_capacity)
            .field("pool_size", &self.pool.status().max_size)
            .finish_non_exhaustive()
    }
}

/// The statements for one table, built once from the validated, backtick-quoted name.
struct Statements {
    read: SqlStr,
    exist: SqlStr,
    insert: SqlStr,
    save: SqlStr,
    stored_length: SqlStr,
    touch: SqlStr,
    destroy: SqlStr,
    count: SqlStr,
    gc: SqlStr,
    owner: SqlStr,
}

fn sql(text: String) -> SqlStr {
    // Only built from a `TableName` (ASCII letters, digits, `_`, backtick-quoted): nothing
    // user-supplied reaches the text unchecked; values are always bound parameters.
    AssertSqlSafe(Arc::<str>::from(text)).into_sql_str()
}

impl Statements {
    fn new(table: &TableName) -> Self {
        let t = table.quoted();
        Statements {
            read: sql(format!(
                "SELECT `data`, `version`, `expires_at` FROM {t} WHERE `id` = ?"
            )),
            exist: sql(format!("SELECT 1 FROM {t} WHERE `id` = ?")),
            // A plain INSERT, not INSERT IGNORE: IGNORE would also turn a too-long value into
            // a warning and store it truncated, even in strict mode. A duplicate ID is the
            // unique-violation error instead, which `insert` maps to `Exists`.
            insert: sql(format!(
                "INSERT INTO {t} (`id`, `data`, `expires_at`, `version`, `owner`) \
                 VALUES (?, ?, ?, ?, ?)"
            )),
            save: sql(format!(
                "UPDATE {t} SET `data` = ?, `expires_at` = ?, `owner` = ?, \
                 `version` = `version` + 1 WHERE `id` = ? AND `version` = ?"
            )),
            stored_length: sql(format!(
                "SELECT CAST(LENGTH(`data`) AS UNSIGNED) FROM {t} WHERE `id` = ?"
            )),
            touch: sql(format!("UPDATE {t} SET `expires_at` = ? WHERE `id` = ?")),
            destroy: sql(format!("DELETE FROM {t} WHERE `id` = ?")),
            count: sql(format!("SELECT COUNT(*) FROM {t} WHERE `expires_at` > ?")),
            // One conditional statement: InnoDB re-reads each row it deletes with a lock, so
            // a row whose expiry a request just pushed forward no longer matches and stays.
            gc: sql(format!(
                "DELETE FROM {t} WHERE `expires_at` <= ? LIMIT {GC_BATCH}"
            )),
            owner: sql(format!(
                "SELECT `id` FROM {t} WHERE `owner` = ? AND `expires_at` > ?"
            )),
        }
    }
}

/// A write the store performs.
#[derive(Clone, Copy)]
enum Op {
    Insert { version: u64 },
    Save { expected: u64 },
}

impl MySqlStore {
    /// Connects with a parsed config and creates the table if it is missing.
    ///
    /// Fails fast: an unreachable server is an [`Error::Backend`] here, after at most the
    /// acquire timeout, rather than on the first request.
    pub async fn connect(config: MySqlConfig, ctx: &ProviderContext) -> Result<Self> {
        let pool = ConnectionManager::new(config.connect, config.acquire_timeout)
            .into_pool(config.pool_size)?;
        Self::from_pool(pool, config.table, ctx).await
    }

    /// Uses an existing pool (its manager's acquire timeout bounds how long a request waits
    /// when the database is down) and creates the table if it is missing.
    ///
    /// Checks at start-up that a record of `ctx.max_record_size` bytes fits the server's
    /// `max_allowed_packet` (a config error otherwise). When the `data` column of an existing
    /// table is smaller than the record limit (a migration that used `BLOB`), a warning is
    /// logged and larger writes are verified, see the crate docs.
    pub async fn from_pool(pool: Pool, table: TableName, ctx: &ProviderContext) -> Result<Self> {
        let mut lease = Lease::acquire(&pool).await?;
        let limits = create_schema(lease.conn()?, &table).await;
        let (packet, data_capacity) = lease.release(limits).map_err(backend)?;
        let limit = ctx.max_record_size as u64;
        if limit.saturating_add(PACKET_OVERHEAD) > packet {
            return Err(Error::config(
                "max_record_size",
                format!(
                    "{limit} bytes does not fit the server's max_allowed_packet ({packet} bytes): \
                     raise max_allowed_packet or lower the record size limit"
                ),
            ));
        }
        match data_capacity {
            Some(capacity) if capacity < limit => tracing::warn!(
                table = %table,
                capacity,
                limit,
                "the data column is smaller than the record size limit: use LONGBLOB \
                 (see schema_sql); larger records are verified after writing and refused"
            ),
            None => tracing::warn!(
                table = %table,
                "cannot read the data column's size from information_schema: every write \
                 is verified after writing"
            ),
            Some(_) => {}
        }
        Ok(MySqlStore {
            sql: Statements::new(&table),
            pool,
            table,
            max_record_size: ctx.max_record_size,
            data_capacity,
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

    /// Checks a record before it is written, so nothing the table cannot hold is sent.
    fn check(&self, record: &Write<'_>) -> Result<()> {
        if record.body.len() > self.max_record_size {
            return Err(Error::TooLarge {
                size: record.body.len(),
                limit: self.max_record_size,
            });
        }
        if let Some(owner) = record.owner
            && owner.chars().count() > MAX_OWNER_CHARS
        {
            return Err(Error::Encode {
                key: "owner".into(),
                message: format!(
                    "the mysql provider's owner column holds at most {MAX_OWNER_CHARS} characters"
                ),
            });
        }
        Ok(())
    }

    /// Runs a write; returns the new version when a row was written.
    ///
    /// Outside strict mode MySQL stores a value too long for its column truncated, with only
    /// a warning (which sqlx does not report). A record that fits the `data` column cannot be
    /// truncated, so it is one statement. A larger one (only possible when the table was
    /// created with a smaller column than this provider's `LONGBLOB`) is written in a
    /// transaction and read back: a stored length that differs rolls the write back.
    async fn write(&self, id: &SessionId, op: Op, record: Write<'_>) -> Result<Option<u64>> {
        self.check(&record)?;
        let len = record.body.len() as u64;
        let mut lease = Lease::acquire(&self.pool).await?;
        if self.data_capacity.is_some_and(|capacity| len <= capacity) {
            let written = self.run(lease.conn()?, id, op, record).await;
            return lease.release(written).map_err(backend);
        }
        // On an error the lease is dropped, closing the connection: the server rolls the
        // transaction back at once, rather than whenever the connection would next be used.
        let outcome = self
            .write_verified(lease.conn()?, id, op, record, len)
            .await
            .map_err(backend)?;
        lease.release(Ok(())).map_err(backend)?;
        outcome
    }

    /// [`MySqlStore::write`] in a transaction, reading the stored length back. The outer
    /// error is the database's; the inner one a truncated write, rolled back.
    async fn write_verified(
        &self,
        conn: &mut MySqlConnection,
        id: &SessionId,
        op: Op,
        record: Write<'_>,
        len: u64,
    ) -> sqlx::Result<Result<Option<u64>>> {
        let mut tx = conn.begin().await?;
        let written = self.run(&mut tx, id, op, record).await?;
        if written.is_some() {
            let (stored,): (Option<u64>,) = sqlx::query_as(self.sql.stored_length.clone())
                .bind(id.as_str())
                .fetch_one(&mut *tx)
                .await?;
            if stored != Some(len) {
                // The previous record stays intact.
                tx.rollback().await?;
                return Ok(Err(Error::backend(
                    NAME,
                    format!(
                        "table {} stored {} of the record's {len} bytes (a `data` column too \
                         small for the record and a non-strict sql_mode): the write was rolled \
                         back; alter the column to LONGBLOB",
                        self.table,
                        stored.map_or_else(|| "none".to_owned(), |n| n.to_string()),
                    ),
                )));
            }
        }
        tx.commit().await?;
        Ok(Ok(written))
    }

    async fn run(
        &self,
        conn: &mut MySqlConnection,
        id: &SessionId,
        op: Op,
        record: Write<'_>,
    ) -> sqlx::Result<Option<u64>> {
        match op {
            Op::Insert { version } => {
                let result = sqlx::query(self.sql.insert.clone())
                    .bind(id.as_str())
                    .bind(record.body)
                    .bind(record.expires_at)
                    .bind(version)
                    .bind(record.owner)
                    .execute(conn)
                    .await;
                match result {
                    Ok(_) => Ok(Some(version)),
                    Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(None),
                    Err(e) => Err(e),
                }
            }
            Op::Save { expected } => {
                // sqlx connects with CLIENT_FOUND_ROWS, so this counts matched rows, not
                // changed ones.
                let done = sqlx::query(self.sql.save.clone())
                    .bind(record.body)
                    .bind(record.expires_at)
                    .bind(record.owner)
                    .bind(id.as_str())
                    .bind(expected)
                    .execute(conn)
                    .await?;
                Ok((done.rows_affected() == 1).then(|| expected.wrapping_add(1)))
            }
        }
    }
}

/// Creates the table if it is missing; returns the server's `max_allowed_packet` and the
/// byte capacity of the table's `data` column.
async fn create_schema(
    conn: &mut MySqlConnection,
    table: &TableName,
) -> sqlx::Result<(u64, Option<u64>)> {
    sqlx::raw_sql(sql(schema_for(table)))
        .execute(&mut *conn)
        .await?;
    sqlx::query_as(
        "SELECT CAST(@@max_allowed_packet AS UNSIGNED), \
         (SELECT CAST(CHARACTER_OCTET_LENGTH AS UNSIGNED) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) \
         AND TABLE_NAME = ? AND COLUMN_NAME = 'data')",
    )
    .bind(table.database())
    .bind(table.name())
    .fetch_one(conn)
    .await
}

fn backend(e: sqlx::Error) -> Error {
    Error::backend(NAME, e)
}

#[async_trait]
impl RawStore for MySqlStore {
    fn provider(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }

    async fn read(&self, id: &SessionId) -> Result<Option<Stored>> {
        let row: Option<(Vec<u8>, u64, i64)> = Lease::run(&self.pool, async |conn| {
            sqlx::query_as(self.sql.read.clone())
                .bind(id.as_str())
                .fetch_optional(conn)
                .await
        })
        .await?;
        Ok(row.map(|(body, version, expires_at)| Stored {
            body: body.into(),
            version: Version(version),
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
        let version = Version::random(NAME)?.0;
        Ok(
            match self.write(id, Op::Insert { version }, record).await? {
                Some(v) => Inserted::Created(Version(v)),
                None => Inserted::Exists,
            },
        )
    }

    async fn save(&self, id: &SessionId, expected: Version, record: Write<'_>) -> Result<Saved> {
        let op = Op::Save {
            expected: expected.0,
        };
        Ok(match self.write(id, op, record).await? {
            Some(v) => Saved::Saved(Version(v)),
            // MySQL has no UPDATE ... RETURNING: the rare miss costs a second query.
            None if self.exist(id).await? => Saved::Conflict,
            None => Saved::Missing,
        })
    }

    async fn touch(&self, id: &SessionId, expires_at: Millis, _ttl_ms: Millis) -> Result<bool> {
        let done = Lease::run(&self.pool, async |conn| {
            sqlx::query(self.sql.touch.clone())
                .bind(expires_at)
                .bind(id.as_str())
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
        session_sqlx::gc_in_batches(GC_BATCH, || async move {
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
