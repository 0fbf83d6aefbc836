//! The PostgreSQL dialect of [`session_sqlx::SqlStore`]: statement text, the schema created at
//! start-up, and the writes that PostgreSQL does in one statement each (insert, save,
//! regenerate).

use session_core::{
    Error, Inserted, Moved, ProviderContext, Result, Saved, SessionId, Version, Write,
};
use session_sqlx::{Dialect, Lease, Statements, gc_after_update, sql};
use sqlx::postgres::{PgConnection, PgQueryResult};
use sqlx::{Connection, SqlStr};

use crate::{NAME, PostgresProvider, PostgresStore, TableName, schema};

pub use session_sqlx::GC_BATCH;

/// BYTEA holds at most 1 GiB.
const MAX_BYTEA: usize = 1 << 30;

/// The statements PostgreSQL runs besides the shared ones, built once per store.
#[derive(Debug)]
pub struct PgStatements {
    insert: SqlStr,
    save: SqlStr,
    regenerate: SqlStr,
}

impl Dialect for PostgresProvider {
    type Database = sqlx::Postgres;
    type Version = i64;
    type State = PgStatements;

    const QUOTE: char = '"';
    /// PostgreSQL truncates identifiers to 63 bytes (`NAMEDATALEN - 1`).
    const MAX_IDENT: usize = 63;

    // BIGINT holds the version; the cast is a bijection between `i64` and `u64`, so a version
    // read back compares equal to the one handed out.
    fn column(version: Version) -> i64 {
        version.0 as i64
    }

    fn version(column: i64) -> Version {
        Version(column as u64)
    }

    fn rows_affected(result: &PgQueryResult) -> u64 {
        result.rows_affected()
    }

    fn statements(table: &TableName) -> Statements {
        let t = table.quoted();
        Statements {
            read: sql(format!(
                "SELECT data, version, expires_at FROM {t} WHERE id = $1"
            )),
            exist: sql(format!("SELECT 1 FROM {t} WHERE id = $1")),
            touch: sql(format!(
                "UPDATE {t} SET expires_at = $1, {} WHERE id = $5",
                gc_after_update(Self::QUOTE, "$2", "$3", "$4")
            )),
            destroy: sql(format!("DELETE FROM {t} WHERE id = $1")),
            count: sql(format!("SELECT count(*) FROM {t} WHERE expires_at > $1")),
            // The batch is found through the `gc_after` index (a mark is never above its
            // expiry, so every expired row is in range) and filtered on the exact expiry. The
            // outer conditions are re-checked on the newest row version when a concurrent
            // save or touch committed meanwhile, so a refreshed session is never deleted;
            // SKIP LOCKED lets GC pass over rows a request is writing instead of waiting.
            gc: sql(format!(
                "DELETE FROM {t} WHERE gc_after <= $1 AND expires_at <= $2 AND id IN (\
                     SELECT id FROM {t} WHERE gc_after <= $1 AND expires_at <= $2 \
                     LIMIT {GC_BATCH} FOR UPDATE SKIP LOCKED)"
            )),
            owner: sql(format!(
                "SELECT id FROM {t} WHERE owner = $1 AND expires_at > $2"
            )),
        }
    }

    fn check_owner(owner: &str) -> Result<()> {
        if owner.contains('\0') {
            return Err(Error::Encode {
                key: "owner".into(),
                message: "PostgreSQL text cannot hold a NUL character".into(),
            });
        }
        Ok(())
    }

    async fn open(
        pool: &session_sqlx::Pool<Self>,
        table: &TableName,
        ctx: &ProviderContext,
    ) -> Result<PgStatements> {
        if ctx.max_record_size > MAX_BYTEA {
            return Err(Error::config(
                "max_record_size",
                format!(
                    "{} bytes is more than a PostgreSQL BYTEA holds ({MAX_BYTEA} bytes)",
                    ctx.max_record_size
                ),
            ));
        }
        let mut lease = Lease::acquire(pool).await?;
        // On an error the lease is dropped, closing the connection: the server then rolls
        // back and releases the lock at once rather than whenever the connection would next
        // be used.
        create_schema(lease.conn()?, table).await.map_err(backend)?;
        lease.release(Ok(())).map_err(backend)?;
        Ok(PgStatements::new(table))
    }

    async fn insert(
        store: &PostgresStore,
        id: &SessionId,
        record: Write<'_>,
        version: Version,
    ) -> Result<Inserted> {
        let done = Lease::run(store.pool(), async |conn| {
            sqlx::query(store.state().insert.clone())
                .bind(id.as_str())
                .bind(record.body)
                .bind(record.expires_at)
                .bind(Self::column(version))
                .bind(record.owner)
                .execute(conn)
                .await
        })
        .await?;
        Ok(if done.rows_affected() == 1 {
            Inserted::Created(version)
        } else {
            Inserted::Exists
        })
    }

    async fn save(
        store: &PostgresStore,
        id: &SessionId,
        expected: Version,
        record: Write<'_>,
    ) -> Result<Saved> {
        let (saved, present): (Option<i64>, bool) = Lease::run(store.pool(), async |conn| {
            sqlx::query_as(store.state().save.clone())
                .bind(id.as_str())
                .bind(Self::column(expected))
                .bind(record.body)
                .bind(record.expires_at)
                .bind(record.owner)
                .bind(store.gc_floor(record.expires_at))
                .fetch_one(conn)
                .await
        })
        .await?;
        Ok(match saved {
            Some(v) => Saved::Saved(Self::version(v)),
            None if present => Saved::Conflict,
            None => Saved::Missing,
        })
    }

    async fn regenerate(
        store: &PostgresStore,
        old: &SessionId,
        expected: Version,
        new: &SessionId,
        record: Write<'_>,
        version: Version,
    ) -> Result<Moved> {
        let (found, moved): (Option<i64>, Option<i64>) = Lease::run(store.pool(), async |conn| {
            sqlx::query_as(store.state().regenerate.clone())
                .bind(old.as_str())
                .bind(Self::column(expected))
                .bind(new.as_str())
                .bind(record.body)
                .bind(record.expires_at)
                .bind(Self::column(version))
                .bind(record.owner)
                .fetch_one(conn)
                .await
        })
        .await?;
        Ok(match (found, moved) {
            (_, Some(v)) => Moved::Moved(Self::version(v)),
            (None, None) => Moved::Missing,
            (Some(v), None) if v != Self::column(expected) => Moved::Conflict,
            (Some(_), None) => Moved::Exists,
        })
    }
}

impl PgStatements {
    fn new(table: &TableName) -> Self {
        let t = table.quoted();
        PgStatements {
            insert: sql(format!(
                "INSERT INTO {t} (id, data, expires_at, version, owner, gc_after) \
                 VALUES ($1, $2, $3, $4, $5, $3) ON CONFLICT (id) DO NOTHING"
            )),
            // The CTE's outer query sees the snapshot from before the UPDATE, so `present`
            // tells a stale version (Conflict) from a missing row in the same round trip.
            // The lookup sits in the CASE's ELSE: PostgreSQL runs an uncorrelated sub-select
            // (an InitPlan) only when its value is first needed, so a save that matched its
            // row, nearly every save, skips a second index probe (`EXPLAIN ANALYZE` shows that
            // sub-select "never executed" then; `bench/NOTES.md` has the per-statement costs).
            // `gc_after` changes only when the expiry moves more than the slack past it (or
            // below it), so most saves write no indexed column and are HOT updates (no new
            // index entries).
            save: sql(format!(
                "WITH updated AS (\
                     UPDATE {t} SET data = $3, expires_at = $4, owner = $5, \
                     version = version + 1, {} \
                     WHERE id = $1 AND version = $2 RETURNING version) \
                 SELECT v, CASE WHEN v IS NOT NULL THEN TRUE \
                     ELSE EXISTS (SELECT 1 FROM {t} WHERE id = $1) END \
                 FROM (SELECT (SELECT version FROM updated) AS v) AS saved",
                gc_after_update(PostgresProvider::QUOTE, "$4", "$6", "$4")
            )),
            // One statement, so one transaction: `old` locks the old row, the new row is
            // inserted only when the old one holds the expected version, and the old row is
            // deleted only when that insert happened. A second mover of the same row waits on
            // the lock; under READ COMMITTED its FOR UPDATE then finds the row deleted (no
            // row: Missing) or rewritten (another version: Conflict), so only one carries
            // the data over.
            regenerate: sql(format!(
                "WITH old AS (\
                     SELECT version FROM {t} WHERE id = $1 FOR UPDATE), \
                 moved AS (\
                     INSERT INTO {t} (id, data, expires_at, version, owner, gc_after) \
                     SELECT $3, $4, $5, $6, $7, $5 FROM old WHERE old.version = $2 \
                     ON CONFLICT (id) DO NOTHING RETURNING version), \
                 retired AS (\
                     DELETE FROM {t} WHERE id = $1 AND EXISTS (SELECT 1 FROM moved)) \
                 SELECT (SELECT version FROM old), (SELECT version FROM moved)"
            )),
        }
    }
}

/// Creates the table and indexes, or upgrades a table of the previous layout (see
/// [`schema::upgrade_for`]), under a transaction-scoped advisory lock, so several application
/// instances starting at once do not race on `CREATE TABLE IF NOT EXISTS` (which is not safe
/// against concurrent creation in PostgreSQL) or on the upgrade: the first one upgrades, the
/// others then find nothing to do. DDL is transactional here, so an upgrade that fails
/// leaves the table as it was.
async fn create_schema(conn: &mut PgConnection, table: &TableName) -> sqlx::Result<()> {
    let mut tx = conn.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind(format!("session-postgres:{}", table.quoted()))
        .execute(&mut *tx)
        .await?;
    // The catalog is asked first so a start-up on an up-to-date table runs no `ALTER TABLE`,
    // whose lock would block every request on the table for a moment.
    let (has_column, has_old_index): (bool, bool) = sqlx::query_as(
        "SELECT \
             EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = t.oid \
                 AND attname = 'gc_after' AND NOT attisdropped), \
             EXISTS (SELECT 1 FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid \
                 WHERE i.indrelid = t.oid AND x.relname = $2) \
         FROM (SELECT to_regclass($1)::oid AS oid) AS t WHERE t.oid IS NOT NULL",
    )
    .bind(table.quoted())
    .bind(schema::index_name(table, schema::OLD_EXPIRY_INDEX))
    .fetch_optional(&mut *tx)
    .await?
    // No row: no table yet, which `schema_for` creates in the new layout.
    .unwrap_or((true, false));
    if let Some(upgrade) = schema::upgrade_for(table, !has_column, has_old_index) {
        sqlx::raw_sql(sql(upgrade)).execute(&mut *tx).await?;
    }
    sqlx::raw_sql(sql(schema::schema_for(table)))
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

fn backend(e: sqlx::Error) -> Error {
    Error::backend(NAME, e)
}
