//! The machine's MariaDB for the integration tests; the helpers themselves are
//! `session_sqlx::testing`'s.

#![allow(dead_code, unused_imports)] // each test binary uses a different subset

use session_mysql::{MySqlConfig, MySqlProvider, MySqlStore, Pool};
use session_sqlx::testing::TestServer;
use sqlx::mysql::MySqlPool;

pub use session_sqlx::testing::{context, unique_table};

pub const URL: &str = "mysql://root@127.0.0.1:3306/test";

/// The test server, for `session_sqlx::testing`.
pub struct Server;

impl TestServer for Server {
    type Admin = MySqlPool;
    type Provider = MySqlProvider;
    type Store = MySqlStore;
    const URL: &'static str = URL;
    const SERVER: &'static str = "MariaDB";
    const ANALYZE: &'static str = "ANALYZE TABLE";

    fn quote(name: &str) -> String {
        format!("`{name}`")
    }

    fn schema_sql(table: &str) -> session_core::Result<String> {
        session_mysql::schema_sql(table)
    }

    fn previous_schema_sql(table: &str) -> String {
        // Verbatim what `schema_sql` gave before the `gc_after` column.
        format!(
            "CREATE TABLE IF NOT EXISTS `{table}` (\n    \
                 `id`         VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,\n    \
                 `data`       LONGBLOB     NOT NULL,\n    \
                 `expires_at` BIGINT       NOT NULL,\n    \
                 `version`    BIGINT UNSIGNED NOT NULL,\n    \
                 `owner`      VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,\n    \
                 PRIMARY KEY (`id`),\n    \
                 KEY `expires_at_idx` (`expires_at`),\n    \
                 KEY `owner_idx` (`owner`)\n\
             ) ENGINE=InnoDB"
        )
    }

    async fn layout(admin: &Self::Admin, table: &str) -> String {
        format!("{:#?}", layout(admin, table).await)
    }

    async fn open(config: String) -> session_core::Result<MySqlStore> {
        let config: MySqlConfig = config.parse()?;
        MySqlStore::open(config, &context(1 << 20)).await
    }

    fn pool(store: &MySqlStore) -> &Pool {
        store.pool()
    }
}

/// Tables created by a test, dropped at its end (or when a panicking test unwinds).
pub type Tables = session_sqlx::testing::Tables<Server>;

/// A pool for test-side inspection.
pub async fn admin_pool() -> MySqlPool {
    session_sqlx::testing::admin_pool::<Server>().await
}

/// A store on `table` with a pool of two connections.
pub async fn store(table: &str) -> MySqlStore {
    session_sqlx::testing::open::<Server>(format!("{URL}?table={table}&pool_size=2")).await
}

/// A column: name, type, nullable, collation, default.
pub type Column = (String, String, String, Option<String>, Option<String>);

/// `table`'s columns by position, its engine, and `(index, column)` of its indexes by name.
pub async fn layout(
    pool: &sqlx::MySqlPool,
    table: &str,
) -> (Vec<Column>, String, Vec<(String, String)>) {
    let columns = sqlx::query_as(
        "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLLATION_NAME, COLUMN_DEFAULT \
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? \
         ORDER BY ORDINAL_POSITION",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .unwrap_or_else(|e| panic!("reading the layout of {table}: {e}"));
    let (engine,): (String,) = sqlx::query_as(
        "SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
         AND TABLE_NAME = ?",
    )
    .bind(table)
    .fetch_one(pool)
    .await
    .unwrap_or_else(|e| panic!("reading the layout of {table}: {e}"));
    let indexes = sqlx::query_as(
        "SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS \
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY INDEX_NAME",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .unwrap_or_else(|e| panic!("reading the layout of {table}: {e}"));
    (columns, engine, indexes)
}
