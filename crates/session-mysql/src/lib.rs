//! MySQL and MariaDB session provider, registered as `"mysql"`, on sqlx 0.9.
//!
//! # Config
//!
//! The config string is either the Go driver DSN Macaron documented, or a sqlx URL:
//!
//! ```text
//! root:password@tcp(127.0.0.1:3306)/macaron?charset=utf8&table=sessions&pool_size=10
//! user@unix(/run/mysqld/mysqld.sock)/app
//! mysql://root:password@127.0.0.1:3306/macaron?table=app.sessions&acquire_timeout=2
//! ```
//!
//! | parameter | meaning |
//! |---|---|
//! | `charset`, `collation` | connection character set and collation (`utf8` is widened to `utf8mb4`) |
//! | `tls` (Go) / `ssl-mode` (sqlx) | `false`/`DISABLED`, `preferred`/`PREFERRED`, `skip-verify`/`REQUIRED`, `true`/`VERIFY_IDENTITY`, `VERIFY_CA`; modes that need TLS require the crate's `tls` feature and are a config error without it |
//! | `ssl-ca`, `socket` | CA file; Unix socket path (also `unix(/path)` in the DSN) |
//! | `parseTime`, `loc` | accepted and ignored, so DSNs copied from Go apps work: no date columns here |
//! | `table` | `table` or `database.table` (default `sessions`), letters, digits and `_` only |
//! | `pool_size` or `max_connections` | pool size (default 10) |
//! | `acquire_timeout` | seconds a request waits for a connection before it fails (default 5) |
//!
//! Parameter values are percent-encoded. In the URL form the provider's own keys (`table`,
//! `pool_size`, `acquire_timeout`) are taken out of the query and the URL is handed to sqlx's
//! parser, so it also accepts sqlx's other parameters (`ssl-cert`, `ssl-key`, `timezone`,
//! ...), while `tls`, `parseTime` and `loc` belong to the Go DSN form. Any other parameter is
//! an [`Error::Config`](session_core::Error::Config) naming it: sqlx itself would silently
//! ignore an unknown URL parameter, hiding a typo.
//!
//! # Schema
//!
//! The provider creates its table when it starts (`IF NOT EXISTS`, under a named lock, see
//! below); teams that run migrations themselves get the same statement from [`schema_sql`]:
//!
//! ```sql
//! CREATE TABLE IF NOT EXISTS `sessions` (
//!     `id`         VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
//!     `data`       LONGBLOB     NOT NULL,
//!     `expires_at` BIGINT       NOT NULL,
//!     `version`    BIGINT UNSIGNED NOT NULL,
//!     `owner`      VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
//!     `gc_after`   BIGINT       NOT NULL DEFAULT 0,
//!     PRIMARY KEY (`id`),
//!     KEY `gc_after_idx` (`gc_after`),
//!     KEY `owner_idx` (`owner`)
//! ) ENGINE=InnoDB
//! ```
//!
//! - InnoDB (not Macaron's MyISAM): row locks and transactions.
//! - `id` holds any ID length core accepts, compared byte for byte.
//! - `data` is `LONGBLOB`, not Macaron's 64 KiB `BLOB`.
//! - `expires_at` is milliseconds since the epoch, computed by core: no 2038 overflow, no
//!   time zones. `version` is bumped by every save and starts at a random value, so a stale
//!   writer cannot match a record that reuses a destroyed ID.
//! - `owner` compares exactly (binary collation), at most 255 characters; a longer owner is
//!   an [`Error::Encode`](session_core::Error::Encode) before anything is written.
//! - `gc_after` is GC's mark, the indexed column, a lower bound of `expires_at` that lags it
//!   by at most the slack (a tenth of the idle lifetime, at most 60 s, as the Redis
//!   provider's index; [`session_core::index_slack`]). A save rewrites it only when the new
//!   expiry is more than the slack past it, or below it; `expires_at` itself is not indexed,
//!   so most saves write no secondary index entry.
//!
//! ## Upgrading a table of the previous layout
//!
//! Tables created before `gc_after` existed (`KEY expires_at_idx (expires_at)`, no
//! `gc_after`) are upgraded when the provider starts, with one statement:
//!
//! ```sql
//! ALTER TABLE `sessions` ADD COLUMN `gc_after` BIGINT NOT NULL DEFAULT 0,
//!     ADD KEY `gc_after_idx` (`gc_after`), DROP KEY `expires_at_idx`
//! ```
//!
//! The provider reads `information_schema` first and names only what is missing, so a start
//! on an up-to-date table runs no `ALTER TABLE`. DDL is not transactional in MySQL, so the
//! creation and the upgrade run under a named lock (`GET_LOCK` on a hash of the table name,
//! waited for up to 120 s): instances starting together upgrade once. Adding the column is
//! instant on MariaDB 10.3 and MySQL 8.0 and later, and the index is built online; the rows
//! already there get mark 0, which is correct (a mark need only be at most the expiry; GC
//! deletes on `expires_at`), and their next save gives them a close mark. During a rolling
//! upgrade, instances of the previous version keep working on the upgraded table: their
//! inserts get the default mark, their saves leave the mark below the expiry.
//!
//! # No silent truncation
//!
//! Outside strict `sql_mode`, MySQL stores a value too long for its column truncated and only
//! raises a warning. This provider makes that impossible to miss:
//!
//! 1. A record over the configured size limit is an
//!    [`Error::TooLarge`](session_core::Error::TooLarge) before anything is sent; at start-up,
//!    a limit that does not fit the server's `max_allowed_packet` is a config error.
//! 2. Inserts are plain `INSERT`s (a duplicate ID is the duplicate-key error), never
//!    `INSERT IGNORE`, which would downgrade a too-long value to a warning even in strict mode.
//! 3. At start-up the provider reads the `data` column's size from `information_schema`. A
//!    record that fits it cannot be truncated and is written with one statement. A larger
//!    record (only when the table was created by hand with a smaller column, which is logged
//!    as a warning) is written in a transaction and its `LENGTH(data)` read back: a mismatch
//!    rolls the write back and is an [`Error::Backend`](session_core::Error::Backend) that
//!    says so. sqlx does not expose the server's warning count, so the size is what decides
//!    when to read back.
//!
//! # Operations
//!
//! | operation | SQL |
//! |---|---|
//! | read | ``SELECT data, version, expires_at ... WHERE id = ?`` (expired rows too: core decides) |
//! | insert | ``INSERT ...``; a duplicate-key error means the ID exists |
//! | save | ``UPDATE ... SET ..., version = version + 1 WHERE id = ? AND version = ?``; when no row matched, one more query tells Conflict from Missing |
//! | touch | ``UPDATE ... SET expires_at = ?, gc_after = CASE WHEN gc_after <= ? AND gc_after >= ? THEN gc_after ELSE ? END WHERE id = ?`` (the save sets `gc_after` the same way) |
//! | destroy | ``DELETE ... WHERE id = ?`` |
//! | regenerate | two statements: the insert of the new row, then ``DELETE ... WHERE id = ? AND version = ?`` of the old one; when that deletes nothing, the new row is deleted again and one more query tells Conflict from Missing |
//! | count | ``SELECT COUNT(*) ... WHERE expires_at > ?`` (reads the whole table: `expires_at` has no index, so that saves need no index write; it runs once per GC pass and on `Manager::count`) |
//! | gc | ``DELETE ... WHERE gc_after <= ? AND expires_at <= ? LIMIT 1000``, repeated until a batch comes back short |
//! | owner index | ``SELECT id ... WHERE owner = ? AND expires_at > ?`` |
//!
//! Regenerate's conditional delete decides between concurrent moves of one session: InnoDB
//! lets only one of them delete the old row, and the other finds it gone (Missing) or
//! rewritten (Conflict), removes its copy and carries nothing over. MySQL has neither
//! `RETURNING` nor data-modifying CTEs, so the single statement PostgreSQL uses is not
//! available; a transaction (`BEGIN`, lock the old row, insert, delete, `COMMIT`) would cost
//! five round trips where this costs two.
//!
//! GC is a conditional statement: InnoDB re-reads every row it deletes under a lock, so a
//! session touched meanwhile no longer matches and is kept. GC goes through `gc_after_idx`
//! (every expired row has a mark at most its expiry, so it is found on the first pass after
//! it expired); the tests run `EXPLAIN` on it and check that the plan uses it (`type:
//! range`, `key: gc_after_idx`). Count filters on the exact `expires_at` and reads the table:
//! a `gc_after` range could not be exact for rows whose mark lags by more than the slack
//! (those written before the upgrade, or by the previous version during a rolling upgrade).
//! `DELETE ... LIMIT` is what MySQL calls unsafe for statement-based replication; with the
//! default `MIXED` (MariaDB) or `ROW` (MySQL) binlog format it is logged by row.
//!
//! # Failures
//!
//! Every database error is an [`Error::Backend`](session_core::Error::Backend), never "no such
//! session". The pool's acquire timeout bounds how long a request waits when all connections
//! are busy or the server is down; the pool reconnects once the server is back, with no need
//! to rebuild the manager. The provider connects when it is opened (fail fast).
//!
//! The provider's pool ([`Pool`], deadpool over sqlx connections) pings neither before a
//! connection is used nor when it goes back (sqlx's own pool does the latter, always), so an
//! operation costs one round trip; a connection unused for 30 s or more
//! ([`PING_IF_IDLE_FOR`]) is pinged first. A connection that saw an I/O error, or whose
//! request was cancelled mid-statement, is closed instead of going back to the pool. A
//! connection the server killed while it sat in the pool therefore fails one request with
//! `Error::Backend` and is replaced; the tests kill the pool's connections while requests run
//! and check exactly that, and count the commands each operation sends.
//!
//! # Example
//!
//! ```no_run
//! use session_core::{Manager, Options, Registry};
//! use session_mysql::MySqlProvider;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> session_core::Result<()> {
//! let registry = Registry::new().with(MySqlProvider)?;
//! let options = Options {
//!     provider: "mysql".into(),
//!     provider_config: "root:@tcp(127.0.0.1:3306)/test?charset=utf8".into(),
//!     ..Options::default()
//! };
//! let manager = Manager::new(options, &registry).await?;
//! let gc = manager.start_gc();
//! let session = manager.load([]);
//! session.set("user", "gopher").await?;
//! assert!(session.commit().await?.set_cookie.is_some());
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
//! use session_mysql::{MySqlConfig, MySqlStore};
//! use sqlx::mysql::MySqlConnectOptions;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> session_core::Result<()> {
//! let options = MySqlConnectOptions::new().host("127.0.0.1").username("root").database("test");
//! let mut config = MySqlConfig::new(options);
//! config.table = "sessions".parse()?;
//! let ctx = ProviderContext {
//!     clock: Arc::new(SystemClock),
//!     max_record_size: 1 << 20,
//!     max_lifetime_ms: 3_600_000,
//! };
//! let store = MySqlStore::open(config, &ctx).await?;
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

pub use dialect::{GC_BATCH, MySqlState};
pub use pool::{ConnectionManager, PING_IF_IDLE_FOR, Pool};
pub use schema::{MAX_OWNER_CHARS, schema_sql};
pub use session_sqlx::{DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_POOL_SIZE, DEFAULT_TABLE};

const NAME: &str = "mysql";

/// The `"mysql"` provider factory (MySQL and MariaDB): parses the config string and opens a
/// [`MySqlStore`] with its own pool. It is also the MySQL [`Dialect`](session_sqlx::Dialect)
/// of the shared store.
#[derive(Debug, Default, Clone, Copy)]
pub struct MySqlProvider;

/// The provider config: parse it from the config string ([`FromStr`](std::str::FromStr)) or
/// build it with `MySqlConfig::new(MySqlConnectOptions)` and its public fields. `Debug` never
/// shows the password.
pub type MySqlConfig = session_sqlx::SqlConfig<MySqlProvider>;

/// Sessions in one MySQL/MariaDB table, through a pool of sqlx connections: open one with
/// `MySqlStore::open(config, &ctx)`, or `from_pool` to share a pool you built (which checks
/// the server's `max_allowed_packet` and the `data` column's size, see above).
pub type MySqlStore = session_sqlx::SqlStore<MySqlProvider>;

/// A validated table name, optionally qualified by a database (`database.table`): each part
/// a letter or `_` followed by letters, digits or `_`, at most 64 characters. Names are
/// always backtick-quoted in SQL, so reserved words work as names.
pub type TableName = session_sqlx::TableName<MySqlProvider>;

#[async_trait]
impl Provider for MySqlProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn open(&self, config: &str, ctx: &ProviderContext) -> Result<Arc<dyn RawStore>> {
        let config: MySqlConfig = config.parse()?;
        Ok(Arc::new(MySqlStore::open(config, ctx).await?))
    }
}
