//! What the sqlx-based session providers (`session-postgres`, `session-mysql`) share, written
//! once: the session store, its config, table names and the connection pool. A provider
//! supplies only what differs, its [`Dialect`] (as sqlx's drivers supply a `Database` to one
//! generic core): statement text, identifier quoting, the `version` column's type, how an
//! insert learns the row exists, and the writes whose shape differs between servers.
//!
//! - [`SqlStore`] is the store: read, exist, touch, destroy, count, GC in batches and the
//!   owner index are the same code for every dialect; insert, save and regenerate are the
//!   dialect's.
//! - [`SqlConfig`] is the config: the shared keys (`table`, `pool_size` or
//!   `max_connections`, `acquire_timeout`), the sqlx URL form with its unknown-key check, and
//!   a `Debug` that never prints the password; the provider's [`ConfigSyntax`] adds its
//!   native form.
//! - [`TableName`] is a table name checked by [`SqlName`]'s rules and quoted in the dialect.
//! - [`gc_after_update`] is how every write sets the GC mark, the indexed column that stands
//!   in for the expiry so that most saves write no index entry; [`SqlStore::gc_floor`] gives
//!   the value it binds.
//!
//! # Why not sqlx's pool
//!
//! sqlx's pool pings every connection when it goes back to the pool, with no option to turn
//! that off, so an operation that is one SQL statement costs two round trips. [`Pool`] is
//! deadpool over sqlx connections instead:
//!
//! - a connection goes back as it is; one unused for [`PING_IF_IDLE_FOR`] or longer is
//!   pinged before it is handed out again;
//! - a request waits at most the [`ConnectionManager`]'s acquire timeout for a connection,
//!   connecting included, and then fails with a
//!   [`Error::Backend`](session_core::Error::Backend) naming the provider;
//! - a connection is checked out as a [`Lease`], which goes back to the pool only through
//!   [`Lease::release`] after a clean outcome (a success, or an error the server reported).
//!   A lease dropped any other way (an I/O error, a request future cancelled mid-statement)
//!   closes its connection, so the next request never gets one with unread replies or an
//!   open transaction on it.
//!
//! The crate has no SQL driver of its own: a provider names its connection type and its
//! registry name by implementing [`SqlxProvider`], and its dialect by implementing
//! [`Dialect`].
//!
//! # Example
//!
//! A provider's marker, its pool, and one operation (the pool connects on demand, so
//! building it needs no server):
//!
//! ```
//! use std::time::Duration;
//!
//! use session_sqlx::{ConnectOptionsOf, ConnectionManager, Endpoint, Lease, Pool, SqlxProvider};
//! use sqlx::postgres::{PgConnectOptions, PgConnection};
//!
//! struct Postgres;
//!
//! impl SqlxProvider for Postgres {
//!     const NAME: &'static str = "postgres";
//!     type Connection = PgConnection;
//!
//!     fn endpoint(options: &ConnectOptionsOf<Self>) -> Endpoint<'_> {
//!         Endpoint {
//!             host: options.get_host(),
//!             port: options.get_port(),
//!             database: options.get_database(),
//!             user: options.get_username(),
//!         }
//!     }
//! }
//!
//! /// One statement, one round trip: no ping before or after it.
//! async fn exists(pool: &Pool<Postgres>, id: &str) -> session_core::Result<bool> {
//!     let mut lease = Lease::acquire(pool).await?;
//!     let result = sqlx::query_as::<_, (i32,)>("SELECT 1 FROM sessions WHERE id = $1")
//!         .bind(id)
//!         .fetch_optional(lease.conn()?)
//!         .await;
//!     let row = lease
//!         .release(result)
//!         .map_err(|e| session_core::Error::backend(Postgres::NAME, e))?;
//!     Ok(row.is_some())
//! }
//!
//! # fn main() -> session_core::Result<()> {
//! let options = PgConnectOptions::new()
//!     .host("127.0.0.1")
//!     .username("root")
//!     .password("secret")
//!     .database("test");
//! let manager = ConnectionManager::<Postgres>::new(options, Duration::from_secs(5));
//! // Debug output shows where it connects, never the password.
//! assert!(!format!("{manager:?}").contains("secret"));
//! let pool = manager.into_pool(10)?;
//! assert_eq!((pool.status().max_size, pool.status().size), (10, 0));
//! # let _ = exists;
//! # Ok(())
//! # }
//! ```
//!
//! # Test support
//!
//! The `test-support` feature adds the module `testing`: the helpers the providers' tests
//! share (unique test tables dropped at the end, a session context, config-string checks,
//! the outage, round-trip and SQL-injection scenarios that are the same for every dialect),
//! and `sql_provider_tests!`, which writes the whole tests every provider runs against its
//! server (schema from `schema_sql`, hostile strings, GC in batches, concurrent moves of one
//! record, an exhausted pool, a server down at start-up, ...). Only dev-dependencies should
//! enable it.

mod config;
mod dialect;
mod name;
mod pool;
mod store;
#[cfg(feature = "test-support")]
pub mod testing;

pub use config::{
    ConfigSyntax, DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_POOL_SIZE, SqlConfig, pool_key, require_tls,
    unknown_key,
};
pub use dialect::{Dialect, GC_BATCH, Statements, gc_after_update, sql};
pub use name::{DEFAULT_TABLE, SqlName, TableName};
pub use pool::{
    ConnectOptionsOf, ConnectionManager, Endpoint, Lease, PING_IF_IDLE_FOR, Pool, SqlxProvider,
};
pub use store::SqlStore;
