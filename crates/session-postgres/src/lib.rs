//! PostgreSQL session provider, registered as `"postgres"`, on sqlx 0.9.
//!
//! # Config
//!
//! The config string is either the libpq `key=value` list Macaron documented, or a sqlx URL:
//!
//! ```text
//! user=a password=b host=127.0.0.1 port=5432 dbname=c sslmode=disable table=sessions pool_size=10
//! postgres://a:b@127.0.0.1:5432/c?sslmode=disable&table=app.sessions&acquire_timeout=2
//! ```
//!
//! | key | meaning |
//! |---|---|
//! | `host`, `port`, `dbname`, `user`, `password` | where to connect (a `host` starting with `/` is a Unix-socket directory) |
//! | `sslmode` | `disable`, `allow`, `prefer`, `require`, `verify-ca`, `verify-full`; the last three need the crate's `tls` feature and are a config error without it |
//! | `sslrootcert`, `application_name` | as in libpq (default application name `session-postgres`) |
//! | `table` | `table` or `schema.table` (default `sessions`), letters, digits and `_` only |
//! | `pool_size` or `max_connections` | pool size (default 10) |
//! | `acquire_timeout` | seconds a request waits for a connection before it fails (default 5) |
//!
//! Values may be single-quoted (`password='a b'`). In the URL form the provider's own keys
//! (`table`, `pool_size`, `acquire_timeout`) are taken out of the query and the URL is handed
//! to sqlx's parser, so it also accepts sqlx's other parameters (`sslcert`, `sslkey`,
//! `options`, ...). Unset connection keys fall back to the libpq environment variables
//! (`PGHOST`, ...), as in libpq. Any other key is an
//! [`Error::Config`](session_core::Error::Config) naming it: sqlx itself would silently ignore
//! an unknown URL parameter, hiding a typo.
//!
//! # Schema
//!
//! The provider creates its table and indexes when it starts (`IF NOT EXISTS`, under an
//! advisory lock so instances starting together do not race). Teams that run migrations
//! themselves get the same statements from [`schema_sql`]:
//!
//! ```sql
//! CREATE TABLE IF NOT EXISTS "sessions" (
//!     id         VARCHAR(128) PRIMARY KEY,
//!     data       BYTEA        NOT NULL,
//!     expires_at BIGINT       NOT NULL,
//!     version    BIGINT       NOT NULL,
//!     owner      TEXT,
//!     gc_after   BIGINT       NOT NULL DEFAULT 0
//! );
//! CREATE INDEX IF NOT EXISTS "sessions_gc_after_idx" ON "sessions" (gc_after);
//! CREATE INDEX IF NOT EXISTS "sessions_owner_idx" ON "sessions" (owner) WHERE owner IS NOT NULL;
//! ```
//!
//! - `id` holds any ID length core accepts (up to 128), unlike Macaron's `CHAR(16)`.
//! - `expires_at` is milliseconds since the epoch, computed by core from its own clock: no
//!   2038 overflow, no time zones, no dependence on the database server's clock.
//! - `version` is bumped by every save; a conditional save is `WHERE version = $expected`. A
//!   new record starts at a random version, so a stale writer cannot match a record that
//!   reuses a destroyed ID.
//! - Names are double-quoted, so `table=` is case-sensitive and may be a reserved word.
//! - `owner` is free text, bound as a parameter like every value; one with a NUL character
//!   (which PostgreSQL text cannot hold) is an [`Error::Encode`](session_core::Error::Encode)
//!   before anything is written.
//! - `gc_after` is GC's mark, the indexed column, a lower bound of `expires_at` that lags it
//!   by at most the slack (a tenth of the idle lifetime, at most 60 s, as the Redis
//!   provider's index; [`session_core::index_slack`]). A save rewrites it only when the new
//!   expiry is more than the slack past it, or below it; `expires_at` itself is not indexed.
//!   So most saves change no indexed column, and PostgreSQL makes them HOT updates: a new row
//!   version on the same page and no new index entries, where a save that wrote an indexed
//!   expiry wrote new entries into both indexes it touched (see `bench/NOTES.md`).
//!
//! ## Upgrading a table of the previous layout
//!
//! Tables created before `gc_after` existed (an index `<table>_expires_at_idx` on
//! `expires_at`, no `gc_after`) are upgraded when the provider starts, in the same
//! transaction and under the same advisory lock as the creation, so instances starting
//! together upgrade once and a failed upgrade leaves the table as it was:
//!
//! ```sql
//! ALTER TABLE "sessions" ADD COLUMN IF NOT EXISTS gc_after BIGINT NOT NULL DEFAULT 0;
//! DROP INDEX IF EXISTS "sessions_expires_at_idx";
//! CREATE INDEX IF NOT EXISTS "sessions_gc_after_idx" ON "sessions" (gc_after);
//! ```
//!
//! The provider reads the catalog first and runs only what is missing, so a start on an
//! up-to-date table takes no `ALTER TABLE` lock. Adding the column rewrites no rows; the rows
//! already there get mark 0, which is correct (a mark need only be at most the expiry; GC
//! deletes on `expires_at`), and their next save gives them a close mark. The index build
//! holds off writes to the table while it runs; on a large table, run the statements above
//! yourself first (with `CREATE INDEX CONCURRENTLY`), and the provider finds nothing to do.
//! During a rolling upgrade, instances of the previous version keep working on the upgraded
//! table: their inserts get the default mark, their saves leave the mark below the expiry.
//!
//! # One statement per operation
//!
//! | operation | SQL |
//! |---|---|
//! | read | `SELECT data, version, expires_at ... WHERE id = $1` (expired rows too: core decides) |
//! | insert | `INSERT ... ON CONFLICT (id) DO NOTHING`; the affected-row count tells created from exists |
//! | save | `UPDATE ... SET ..., version = version + 1, gc_after = CASE ... END WHERE id = $1 AND version = $2` inside a CTE that also reports whether the row exists, so Conflict and Missing need no second query |
//! | touch | `UPDATE ... SET expires_at = $1, gc_after = CASE WHEN gc_after <= $2 AND gc_after >= $3 THEN gc_after ELSE $4 END WHERE id = $5` |
//! | destroy | `DELETE ... WHERE id = $1` |
//! | regenerate | one statement: a CTE locks the old row (`SELECT version ... WHERE id = $1 FOR UPDATE`), inserts the new row only when the old one holds the expected version (`INSERT ... SELECT ... ON CONFLICT (id) DO NOTHING`) and deletes the old row only when that insert happened; it returns the old version and the new one, which tell Moved, Exists, Conflict and Missing apart |
//! | count | `SELECT count(*) ... WHERE expires_at > $1` (reads the whole table: `expires_at` has no index, so that saves need no index write; it runs once per GC pass and on `Manager::count`) |
//! | gc | `DELETE ... WHERE gc_after <= $1 AND expires_at <= $2 AND id IN (SELECT id ... WHERE gc_after <= $1 AND expires_at <= $2 LIMIT 1000 FOR UPDATE SKIP LOCKED)`, repeated until a batch comes back short |
//! | owner index | `SELECT id ... WHERE owner = $1 AND expires_at > $2` |
//!
//! Regenerate is atomic: a second mover of the same session waits on the row lock and then,
//! under READ COMMITTED, finds the old row deleted (Missing) or rewritten (Conflict), so of
//! two concurrent moves exactly one carries the data over.
//!
//! GC is a conditional statement: a session touched while GC runs is re-checked against
//! `expires_at <= $2` on its newest version and kept. GC finds its batch through the
//! `gc_after` index: every expired row has a mark at most its expiry, so it is found on the
//! first pass after it expired, and the range hands GC at most the rows expiring within the
//! next slack besides, which the exact `expires_at` filters out. The tests run `EXPLAIN` on
//! it and check the plan names the index, for example:
//!
//! ```text
//! Delete on sessions
//!   ->  Nested Loop Semi Join
//!         Join Filter: ((sessions.id)::text = ("ANY_subquery".id)::text)
//!         ->  Index Scan using sessions_gc_after_idx on sessions
//!               Index Cond: (gc_after <= '10000'::bigint)
//!               Filter: (expires_at <= '10000'::bigint)
//!         ->  Subquery Scan on "ANY_subquery"
//!               ->  Limit
//!                     ->  LockRows
//!                           ->  Index Scan using sessions_gc_after_idx on sessions sessions_1
//!                                 Index Cond: (gc_after <= '10000'::bigint)
//!                                 Filter: (expires_at <= '10000'::bigint)
//! ```
//!
//! (5 000 rows, ten of them expired.) Count filters on the exact `expires_at` and reads the
//! table: a `gc_after` range could not be exact for rows whose mark lags by more than the
//! slack (those written before the upgrade, or by the previous version during a rolling
//! upgrade), and where GC runs, most rows in the table are live, so the range would read
//! nearly all of them anyway.
//!
//! # Failures
//!
//! Every database error is an [`Error::Backend`](session_core::Error::Backend), never "no such
//! session". The pool's acquire timeout bounds how long a request waits when all connections
//! are busy or the server is down; connections are re-established by the pool once the
//! server is back, with no need to rebuild the manager. The provider connects when it is
//! opened (fail fast): a server that is down at start-up is an error from `Manager::new`.
//!
//! The provider's pool ([`Pool`], deadpool over sqlx connections) pings neither before a
//! connection is used nor when it goes back (sqlx's own pool does the latter, always), so an
//! operation costs one round trip; a connection unused for 30 s or more
//! ([`PING_IF_IDLE_FOR`]) is pinged first. A connection that saw an I/O error, or whose
//! request was cancelled mid-statement, is closed instead of going back to the pool. A
//! connection the server killed while it sat in the pool therefore fails one request with
//! `Error::Backend` and is replaced; the tests kill the pool's connections while requests run
//! and check exactly that, and count the round trips of each operation.
//!
//! # Example
//!
//! ```no_run
//! use session_core::{Manager, Options, Registry};
//! use session_postgres::PostgresProvider;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> session_core::Result<()> {
//! let registry = Registry::new().with(PostgresProvider)?;
//! let options = Options {
//!     provider: "postgres".into(),
//!     provider_config: "user=postgres host=127.0.0.1 dbname=test sslmode=disable".into(),
//!     ..Options::default()
//! };
//! let manager = Manager::new(options, &registry).await?;
//! let gc = manager.start_gc();
//! let session = manager.load([]);
//! session.set("user", "gopher").await?;
//! let set_cookie = session.commit().await?.set_cookie;
//! assert!(set_cookie.is_some());
//! gc.stop().await;
//! # Ok(())
//! # }
//! ```
//!
//! The same store built in code, without a config string:
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use session_core::{Manager, Options, ProviderContext, SystemClock};
//! use session_postgres::{PostgresConfig, PostgresStore};
//! use sqlx::postgres::PgConnectOptions;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> session_core::Result<()> {
//! let options = PgConnectOptions::new().host("127.0.0.1").username("postgres").database("test");
//! let mut config = PostgresConfig::new(options);
//! config.table = "app.sessions".parse()?;
//! config.pool_size = 4;
//! let ctx = ProviderContext {
//!     clock: Arc::new(SystemClock),
//!     max_record_size: 1 << 20,
//!     max_lifetime_ms: 3_600_000,
//! };
//! let store = PostgresStore::open(config, &ctx).await?;
//! let manager = Manager::with_store(Options::default(), Arc::new(store), ctx.clock)?;
//! # let _ = manager;
//! # Ok(())
//! # }
//! ```

mod config;
mod dialect;
mod pool;
mod schema;

use std::sync::Arc;

use async_trait::async_trait;
use session_core::{Provider, ProviderContext, RawStore, Result};

pub use config::DEFAULT_APPLICATION_NAME;
pub use dialect::{GC_BATCH, PgStatements};
pub use pool::{ConnectionManager, PING_IF_IDLE_FOR, Pool};
pub use schema::schema_sql;
pub use session_sqlx::{DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_POOL_SIZE, DEFAULT_TABLE};

const NAME: &str = "postgres";

/// The `"postgres"` provider factory: parses the config string and opens a
/// [`PostgresStore`] with its own pool. It is also the PostgreSQL
/// [`Dialect`](session_sqlx::Dialect) of the shared store.
#[derive(Debug, Default, Clone, Copy)]
pub struct PostgresProvider;

/// The provider config: parse it from the config string ([`FromStr`](std::str::FromStr)) or
/// build it with `PostgresConfig::new(PgConnectOptions)` and its public fields. `Debug` never
/// shows the password.
pub type PostgresConfig = session_sqlx::SqlConfig<PostgresProvider>;

/// Sessions in one PostgreSQL table, through a pool of sqlx connections: open one with
/// `PostgresStore::open(config, &ctx)`, or `from_pool` to share a pool you built.
pub type PostgresStore = session_sqlx::SqlStore<PostgresProvider>;

/// A validated table name, optionally qualified by a schema (`schema.table`): each part
/// matches `^[A-Za-z_][A-Za-z0-9_]{0,62}$`. Names are always double-quoted in SQL, so a
/// reserved word works as a name and the case is kept as written: create the table with
/// [`schema_sql`] (or the same quoting) when you run migrations yourself.
pub type TableName = session_sqlx::TableName<PostgresProvider>;

#[async_trait]
impl Provider for PostgresProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn open(&self, config: &str, ctx: &ProviderContext) -> Result<Arc<dyn RawStore>> {
        let config: PostgresConfig = config.parse()?;
        Ok(Arc::new(PostgresStore::open(config, ctx).await?))
    }
}
