//! What a SQL dialect supplies to the shared store: its sqlx database, how it quotes names,
//! the statement text, and the writes whose shape differs between servers.

use std::future::Future;
use std::sync::Arc;

use session_core::{Inserted, Moved, ProviderContext, Result, Saved, SessionId, Version, Write};
use sqlx::{AssertSqlSafe, Database, SqlSafeStr, SqlStr};

use crate::name::TableName;
use crate::pool::{Pool, SqlxProvider};
use crate::store::SqlStore;

/// Rows deleted per GC statement: small enough to keep each statement's locks and log writes
/// short.
pub const GC_BATCH: u64 = 1000;

/// A SQL dialect, implemented by a provider on its marker type (usually its
/// [`Provider`](session_core::Provider) factory).
///
/// [`SqlStore`] runs the operations that are the same SQL with different text (read, exist,
/// touch, destroy, count, GC, owner index) from [`Dialect::statements`]; the writes whose
/// shape differs (how an insert reports an existing row, how a failed save tells a conflict
/// from a missing row, how regenerate stays atomic) are the dialect's own methods.
///
/// The statements bind their parameters in this order, whatever the placeholder syntax:
///
/// | statement | binds | returns |
/// |---|---|---|
/// | `read` | id | `(data, version, expires_at)` |
/// | `exist` | id | one `INT` column |
/// | `touch` | expires_at, expires_at, floor, expires_at, id | affected rows |
/// | `destroy` | id | affected rows |
/// | `count` | now | one `BIGINT` |
/// | `gc` | now, now | affected rows, at most [`GC_BATCH`] |
/// | `owner` | owner, now | session IDs |
///
/// A value is bound once per placeholder, so the `?` of MySQL and the `$n` of PostgreSQL
/// take the same list; `floor` is [`SqlStore::gc_floor`] of the new expiry, for the
/// [`gc_after_update`] assignment.
pub trait Dialect:
    SqlxProvider<Connection = <Self::Database as Database>::Connection> + Sized
{
    /// The sqlx database.
    type Database: Database;

    /// The Rust type of the `version` column (`i64` for a signed `BIGINT`).
    type Version: Copy + Send + Sync + Unpin + 'static;

    /// What [`Dialect::open`] learnt about the server and table, kept by the store.
    type State: Send + Sync + std::fmt::Debug + 'static;

    /// The character that quotes an identifier (`"` or `` ` ``).
    const QUOTE: char;

    /// Longest identifier part, in characters.
    const MAX_IDENT: usize;

    /// A version as stored in the column.
    fn column(version: Version) -> Self::Version;

    /// A version read from the column; the inverse of [`Dialect::column`].
    fn version(column: Self::Version) -> Version;

    /// How many rows a statement wrote (sqlx has no driver-independent accessor).
    fn rows_affected(result: &<Self::Database as Database>::QueryResult) -> u64;

    /// The shared statements for `table`, built once per store.
    fn statements(table: &TableName<Self>) -> Statements;

    /// Refuses an owner the table cannot hold with an
    /// [`Error::Encode`](session_core::Error::Encode) before anything is written.
    fn check_owner(owner: &str) -> Result<()>;

    /// Creates the table if it is missing and checks the server can hold records of
    /// `ctx.max_record_size` bytes.
    fn open(
        pool: &Pool<Self>,
        table: &TableName<Self>,
        ctx: &ProviderContext,
    ) -> impl Future<Output = Result<Self::State>> + Send;

    /// Creates `id` with `record` at `version` unless a row with that ID exists. The record
    /// has passed the store's checks.
    fn insert(
        store: &SqlStore<Self>,
        id: &SessionId,
        record: Write<'_>,
        version: Version,
    ) -> impl Future<Output = Result<Inserted>> + Send;

    /// Replaces `id`'s record if its version is `expected`, as
    /// [`RawStore::save`](session_core::RawStore::save). The record has passed the checks.
    fn save(
        store: &SqlStore<Self>,
        id: &SessionId,
        expected: Version,
        record: Write<'_>,
    ) -> impl Future<Output = Result<Saved>> + Send;

    /// Moves `old` (if it holds `expected`) to `new` with `record` at `version`, as
    /// [`RawStore::regenerate`](session_core::RawStore::regenerate): of two concurrent moves
    /// of one record exactly one answers [`Moved::Moved`]. The record has passed the checks.
    fn regenerate(
        store: &SqlStore<Self>,
        old: &SessionId,
        expected: Version,
        new: &SessionId,
        record: Write<'_>,
        version: Version,
    ) -> impl Future<Output = Result<Moved>> + Send;
}

/// The statements every dialect has, for one table (see [`Dialect`] for their parameters).
#[derive(Debug, Clone)]
pub struct Statements {
    /// Reads a record, expired or not.
    pub read: SqlStr,
    /// Whether a row exists.
    pub exist: SqlStr,
    /// Sets a row's expiry.
    pub touch: SqlStr,
    /// Deletes a row.
    pub destroy: SqlStr,
    /// Counts live rows.
    pub count: SqlStr,
    /// Deletes at most [`GC_BATCH`] expired rows, found through the GC mark.
    pub gc: SqlStr,
    /// Lists an owner's live sessions.
    pub owner: SqlStr,
}

/// The `gc_after` assignment of a write that sets the expiry to the value bound at
/// `expires` (and again at `expires_again`), with `floor` bound to that expiry minus the
/// slack ([`SqlStore::gc_floor`]).
///
/// `gc_after` carries the GC index instead of `expires_at`, so a save that leaves it alone
/// changes no indexed column (on PostgreSQL a HOT update: no new index entries). It is a
/// lower bound of the expiry, kept while it lies between the floor and the new expiry and
/// reset to the new expiry otherwise, so `expires_at - slack <= gc_after <= expires_at` holds
/// after every write (as an index score lags its record in the Redis provider). GC looks for
/// `gc_after <= now` through the index and deletes what also has `expires_at <= now`: an
/// expired row is always found at once, a live one never deleted, and the index hands GC at
/// most the rows expiring within the next slack besides.
pub fn gc_after_update(quote: char, expires: &str, floor: &str, expires_again: &str) -> String {
    let q = quote;
    format!(
        "{q}gc_after{q} = CASE WHEN {q}gc_after{q} <= {expires} AND {q}gc_after{q} >= {floor} \
         THEN {q}gc_after{q} ELSE {expires_again} END"
    )
}

/// Statement text for sqlx. Only for text built from a [`TableName`] (checked identifiers,
/// quoted) and constants: values are always bound parameters.
pub fn sql(text: String) -> SqlStr {
    AssertSqlSafe(Arc::<str>::from(text)).into_sql_str()
}
