//! The MySQL/MariaDB dialect of [`session_sqlx::SqlStore`]: statement text, the schema and
//! limits checked at start-up, and the guarded writes that keep a non-strict `sql_mode` from
//! truncating a record.

use session_core::{
    Error, Inserted, Moved, ProviderContext, Result, Saved, SessionId, Version, Write,
};
use session_sqlx::{Dialect, Lease, Statements, gc_after_update, sql};
use sqlx::mysql::{MySqlConnection, MySqlQueryResult};
use sqlx::{Connection, SqlStr};

use crate::schema::{self, MAX_OWNER_CHARS};
use crate::{MySqlProvider, MySqlStore, NAME, Pool, TableName};

pub use session_sqlx::GC_BATCH;

/// Room for the statement and the other parameters next to the record in one packet.
const PACKET_OVERHEAD: u64 = 16 * 1024;

/// What the store learnt at start-up, and the statements MySQL runs besides the shared ones.
#[derive(Debug)]
pub struct MySqlState {
    /// Bytes the `data` column holds, read from `information_schema` at start-up (`None`
    /// when the server would not say). A record no longer than this cannot be truncated.
    pub data_capacity: Option<u64>,
    insert: SqlStr,
    save: SqlStr,
    stored_length: SqlStr,
    retire: SqlStr,
}

/// A write the store performs.
#[derive(Clone, Copy)]
enum Op {
    Insert { version: u64 },
    Save { expected: u64 },
}

impl Dialect for MySqlProvider {
    type Database = sqlx::MySql;
    type Version = u64;
    type State = MySqlState;

    const QUOTE: char = '`';
    const MAX_IDENT: usize = 64;

    fn column(version: Version) -> u64 {
        version.0
    }

    fn version(column: u64) -> Version {
        Version(column)
    }

    fn rows_affected(result: &MySqlQueryResult) -> u64 {
        result.rows_affected()
    }

    fn statements(table: &TableName) -> Statements {
        let t = table.quoted();
        Statements {
            read: sql(format!(
                "SELECT `data`, `version`, `expires_at` FROM {t} WHERE `id` = ?"
            )),
            exist: sql(format!("SELECT 1 FROM {t} WHERE `id` = ?")),
            touch: sql(format!(
                "UPDATE {t} SET `expires_at` = ?, {} WHERE `id` = ?",
                gc_after_update(Self::QUOTE, "?", "?", "?")
            )),
            destroy: sql(format!("DELETE FROM {t} WHERE `id` = ?")),
            count: sql(format!("SELECT COUNT(*) FROM {t} WHERE `expires_at` > ?")),
            // One conditional statement through the `gc_after` index (a mark is never above
            // its expiry, so every expired row is in range), filtered on the exact expiry:
            // InnoDB re-reads each row it deletes with a lock, so a row whose expiry a request
            // just pushed forward no longer matches and stays.
            gc: sql(format!(
                "DELETE FROM {t} WHERE `gc_after` <= ? AND `expires_at` <= ? LIMIT {GC_BATCH}"
            )),
            owner: sql(format!(
                "SELECT `id` FROM {t} WHERE `owner` = ? AND `expires_at` > ?"
            )),
        }
    }

    fn check_owner(owner: &str) -> Result<()> {
        if owner.chars().count() > MAX_OWNER_CHARS {
            return Err(Error::Encode {
                key: "owner".into(),
                message: format!(
                    "the mysql provider's owner column holds at most {MAX_OWNER_CHARS} characters"
                ),
            });
        }
        Ok(())
    }

    /// Checks that a record of `ctx.max_record_size` bytes fits the server's
    /// `max_allowed_packet` (a config error otherwise). When the `data` column of an existing
    /// table is smaller than the record limit (a migration that used `BLOB`), a warning is
    /// logged and larger writes are verified, see the crate docs.
    async fn open(pool: &Pool, table: &TableName, ctx: &ProviderContext) -> Result<MySqlState> {
        let mut lease = Lease::acquire(pool).await?;
        let limits = create_schema(lease.conn()?, table).await;
        let (packet, data_capacity) = lease.release(limits).map_err(backend)??;
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
        Ok(MySqlState::new(table, data_capacity))
    }

    async fn insert(
        store: &MySqlStore,
        id: &SessionId,
        record: Write<'_>,
        version: Version,
    ) -> Result<Inserted> {
        let op = Op::Insert { version: version.0 };
        Ok(match write(store, id, op, record).await? {
            Some(v) => Inserted::Created(Version(v)),
            None => Inserted::Exists,
        })
    }

    async fn save(
        store: &MySqlStore,
        id: &SessionId,
        expected: Version,
        record: Write<'_>,
    ) -> Result<Saved> {
        let op = Op::Save {
            expected: expected.0,
        };
        Ok(match write(store, id, op, record).await? {
            Some(v) => Saved::Saved(Version(v)),
            // MySQL has no UPDATE ... RETURNING: the rare miss costs a second query.
            None => lost(store, id).await?.into(),
        })
    }

    /// Two statements: the new row is inserted (through the same truncation guard as any
    /// insert), then the old row is deleted only if it still holds the expected version.
    /// That conditional delete is the one step two movers cannot both pass, so it decides
    /// the winner; the loser deletes the row it inserted and asks whether the old row is
    /// still there (Conflict) or gone (Missing), two more statements on that rare path.
    async fn regenerate(
        store: &MySqlStore,
        old: &SessionId,
        expected: Version,
        new: &SessionId,
        record: Write<'_>,
        version: Version,
    ) -> Result<Moved> {
        let op = Op::Insert { version: version.0 };
        if write(store, new, op, record).await?.is_none() {
            return Ok(Moved::Exists);
        }
        let retired = Lease::run(store.pool(), async |conn| {
            sqlx::query(store.state().retire.clone())
                .bind(old.as_str())
                .bind(expected.0)
                .execute(conn)
                .await
        })
        .await;
        match retired {
            Ok(done) if done.rows_affected() == 1 => Ok(Moved::Moved(version)),
            Ok(_) => {
                session_core::RawStore::destroy(store, new).await?;
                Ok(lost(store, old).await?.into())
            }
            Err(e) => {
                // The old record is where it was: take the copy back.
                session_core::RawStore::destroy(store, new).await?;
                Err(e)
            }
        }
    }
}

/// Why a conditional write matched no row: the row is there with another version, or gone.
enum Lost {
    Conflict,
    Missing,
}

async fn lost(store: &MySqlStore, id: &SessionId) -> Result<Lost> {
    Ok(if session_core::RawStore::exist(store, id).await? {
        Lost::Conflict
    } else {
        Lost::Missing
    })
}

impl From<Lost> for Saved {
    fn from(lost: Lost) -> Self {
        match lost {
            Lost::Conflict => Saved::Conflict,
            Lost::Missing => Saved::Missing,
        }
    }
}

impl From<Lost> for Moved {
    fn from(lost: Lost) -> Self {
        match lost {
            Lost::Conflict => Moved::Conflict,
            Lost::Missing => Moved::Missing,
        }
    }
}

impl MySqlState {
    fn new(table: &TableName, data_capacity: Option<u64>) -> Self {
        let t = table.quoted();
        MySqlState {
            data_capacity,
            // A plain INSERT, not INSERT IGNORE: IGNORE would also turn a too-long value into
            // a warning and store it truncated, even in strict mode. A duplicate ID is the
            // unique-violation error instead, which `insert` maps to `Exists`.
            insert: sql(format!(
                "INSERT INTO {t} (`id`, `data`, `expires_at`, `version`, `owner`, `gc_after`) \
                 VALUES (?, ?, ?, ?, ?, ?)"
            )),
            // Assignments see the values of the columns assigned before them in MySQL (and
            // in MariaDB without SIMULTANEOUS_ASSIGNMENT), so the `gc_after` update compares
            // with the bound expiry, never with the `expires_at` column.
            save: sql(format!(
                "UPDATE {t} SET `data` = ?, `expires_at` = ?, {}, `owner` = ?, \
                 `version` = `version` + 1 WHERE `id` = ? AND `version` = ?",
                gc_after_update(MySqlProvider::QUOTE, "?", "?", "?")
            )),
            stored_length: sql(format!(
                "SELECT CAST(LENGTH(`data`) AS UNSIGNED) FROM {t} WHERE `id` = ?"
            )),
            retire: sql(format!("DELETE FROM {t} WHERE `id` = ? AND `version` = ?")),
        }
    }
}

/// Runs a write; returns the new version when a row was written.
///
/// Outside strict mode MySQL stores a value too long for its column truncated, with only
/// a warning (which sqlx does not report). A record that fits the `data` column cannot be
/// truncated, so it is one statement. A larger one (only possible when the table was
/// created with a smaller column than this provider's `LONGBLOB`) is written in a
/// transaction and read back: a stored length that differs rolls the write back.
async fn write(
    store: &MySqlStore,
    id: &SessionId,
    op: Op,
    record: Write<'_>,
) -> Result<Option<u64>> {
    let state = store.state();
    let len = record.body.len() as u64;
    let mut lease = Lease::acquire(store.pool()).await?;
    if state.data_capacity.is_some_and(|capacity| len <= capacity) {
        let floor = store.gc_floor(record.expires_at);
        let written = run(state, lease.conn()?, id, op, record, floor).await;
        return lease.release(written).map_err(backend);
    }
    // On an error the lease is dropped, closing the connection: the server rolls the
    // transaction back at once, rather than whenever the connection would next be used.
    let outcome = write_verified(store, lease.conn()?, id, op, record, len)
        .await
        .map_err(backend)?;
    lease.release(Ok(())).map_err(backend)?;
    outcome
}

/// [`write`] in a transaction, reading the stored length back. The outer error is the
/// database's; the inner one a truncated write, rolled back.
async fn write_verified(
    store: &MySqlStore,
    conn: &mut MySqlConnection,
    id: &SessionId,
    op: Op,
    record: Write<'_>,
    len: u64,
) -> sqlx::Result<Result<Option<u64>>> {
    let state = store.state();
    let mut tx = conn.begin().await?;
    let floor = store.gc_floor(record.expires_at);
    let written = run(state, &mut tx, id, op, record, floor).await?;
    if written.is_some() {
        let (stored,): (Option<u64>,) = sqlx::query_as(state.stored_length.clone())
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
                    store.table(),
                    stored.map_or_else(|| "none".to_owned(), |n| n.to_string()),
                ),
            )));
        }
    }
    tx.commit().await?;
    Ok(Ok(written))
}

/// Runs one write statement; `floor` is the lowest GC mark the record's expiry keeps.
async fn run(
    state: &MySqlState,
    conn: &mut MySqlConnection,
    id: &SessionId,
    op: Op,
    record: Write<'_>,
    floor: i64,
) -> sqlx::Result<Option<u64>> {
    match op {
        Op::Insert { version } => {
            let result = sqlx::query(state.insert.clone())
                .bind(id.as_str())
                .bind(record.body)
                .bind(record.expires_at)
                .bind(version)
                .bind(record.owner)
                .bind(record.expires_at)
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
            let done = sqlx::query(state.save.clone())
                .bind(record.body)
                .bind(record.expires_at)
                .bind(record.expires_at)
                .bind(floor)
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

/// How long a starting store waits for another one's schema work (table creation or an
/// upgrade, which builds an index) on the same table.
const SCHEMA_LOCK_TIMEOUT_S: i64 = 120;

/// The named lock a store holds while it creates or upgrades `table`. MySQL limits lock
/// names to 64 characters, hence the hash of the (database-qualified) table name.
const SCHEMA_LOCK: &str = "CONCAT('session-mysql:', SHA1(CONCAT(COALESCE(?, DATABASE()), '.', ?)))";

/// Creates the table if it is missing, or upgrades one of the previous layout (see
/// [`schema::upgrade_for`]); returns the server's `max_allowed_packet` and the byte capacity
/// of the table's `data` column. The outer error is the database's; the inner one a schema
/// lock not obtained in time.
///
/// DDL is not transactional in MySQL, so a named lock (`GET_LOCK`) keeps instances starting
/// together from running the same upgrade twice: the first upgrades, the others find it done.
/// The lock belongs to the connection, so it is released on every path here, and by the
/// server if the connection is closed.
async fn create_schema(
    conn: &mut MySqlConnection,
    table: &TableName,
) -> sqlx::Result<Result<(u64, Option<u64>)>> {
    let (locked,): (Option<i64>,) = sqlx::query_as(sql(format!(
        "SELECT GET_LOCK({SCHEMA_LOCK}, {SCHEMA_LOCK_TIMEOUT_S})"
    )))
    .bind(table.qualifier())
    .bind(table.name())
    .fetch_one(&mut *conn)
    .await?;
    if locked != Some(1) {
        return Ok(Err(Error::backend(
            NAME,
            format!(
                "another instance held the schema lock of table {table} for more than \
                 {SCHEMA_LOCK_TIMEOUT_S} s"
            ),
        )));
    }
    let created = create_or_upgrade(conn, table).await;
    let released = sqlx::query(sql(format!("SELECT RELEASE_LOCK({SCHEMA_LOCK})")))
        .bind(table.qualifier())
        .bind(table.name())
        .execute(&mut *conn)
        .await;
    let limits = created?;
    released?;
    Ok(Ok(limits))
}

/// [`create_schema`]'s work, under the lock.
async fn create_or_upgrade(
    conn: &mut MySqlConnection,
    table: &TableName,
) -> sqlx::Result<(u64, Option<u64>)> {
    sqlx::raw_sql(sql(schema::schema_for(table)))
        .execute(&mut *conn)
        .await?;
    // The catalog is asked first so a start-up on an up-to-date table runs no `ALTER TABLE`.
    let (has_column, has_index, has_old_index): (bool, bool, bool) = sqlx::query_as(
        "SELECT \
             EXISTS (SELECT 1 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) \
                 AND TABLE_NAME = ? AND COLUMN_NAME = 'gc_after'), \
             EXISTS (SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) \
                 AND TABLE_NAME = ? AND INDEX_NAME = 'gc_after_idx'), \
             EXISTS (SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) \
                 AND TABLE_NAME = ? AND INDEX_NAME = 'expires_at_idx')",
    )
    .bind(table.qualifier())
    .bind(table.name())
    .bind(table.qualifier())
    .bind(table.name())
    .bind(table.qualifier())
    .bind(table.name())
    .fetch_one(&mut *conn)
    .await?;
    if let Some(upgrade) = schema::upgrade_for(table, !has_column, !has_index, has_old_index) {
        sqlx::raw_sql(sql(upgrade)).execute(&mut *conn).await?;
    }
    sqlx::query_as(
        "SELECT CAST(@@max_allowed_packet AS UNSIGNED), \
         (SELECT CAST(CHARACTER_OCTET_LENGTH AS UNSIGNED) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) \
         AND TABLE_NAME = ? AND COLUMN_NAME = 'data')",
    )
    .bind(table.qualifier())
    .bind(table.name())
    .fetch_one(conn)
    .await
}

fn backend(e: sqlx::Error) -> Error {
    Error::backend(NAME, e)
}
