//! The machine's PostgreSQL for the integration tests; the helpers themselves are
//! `session_sqlx::testing`'s.

#![allow(dead_code, unused_imports)] // each test binary uses a different subset

use session_postgres::{Pool, PostgresConfig, PostgresProvider, PostgresStore};
use session_sqlx::testing::TestServer;
use sqlx::postgres::PgPool;

pub use session_sqlx::testing::{context, unique_table};

pub const URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The test server, for `session_sqlx::testing`.
pub struct Server;

impl TestServer for Server {
    type Admin = PgPool;
    type Provider = PostgresProvider;
    type Store = PostgresStore;
    const URL: &'static str = URL;
    const SERVER: &'static str = "PostgreSQL";
    const ANALYZE: &'static str = "ANALYZE";

    fn quote(name: &str) -> String {
        format!("\"{name}\"")
    }

    fn schema_sql(table: &str) -> session_core::Result<String> {
        session_postgres::schema_sql(table)
    }

    fn previous_schema_sql(table: &str) -> String {
        // Verbatim what `schema_sql` gave before the `gc_after` column.
        format!(
            "CREATE TABLE IF NOT EXISTS \"{table}\" (\n    \
                 id         VARCHAR(128) PRIMARY KEY,\n    \
                 data       BYTEA        NOT NULL,\n    \
                 expires_at BIGINT       NOT NULL,\n    \
                 version    BIGINT       NOT NULL,\n    \
                 owner      TEXT\n\
             );\n\
             CREATE INDEX IF NOT EXISTS \"{table}_expires_at_idx\" ON \"{table}\" (expires_at);\n\
             CREATE INDEX IF NOT EXISTS \"{table}_owner_idx\" ON \"{table}\" (owner) WHERE owner IS NOT NULL;\n"
        )
    }

    async fn layout(admin: &Self::Admin, table: &str) -> String {
        format!("{:#?}", layout(admin, table).await)
    }

    async fn open(config: String) -> session_core::Result<PostgresStore> {
        let config: PostgresConfig = config.parse()?;
        PostgresStore::open(config, &context(1 << 20)).await
    }

    fn pool(store: &PostgresStore) -> &Pool {
        store.pool()
    }
}

/// Tables created by a test, dropped at its end (or when a panicking test unwinds).
pub type Tables = session_sqlx::testing::Tables<Server>;

/// A pool for test-side inspection.
pub async fn admin_pool() -> PgPool {
    session_sqlx::testing::admin_pool::<Server>().await
}

/// A store on `table` with a pool of two connections.
pub async fn store(table: &str) -> PostgresStore {
    session_sqlx::testing::open::<Server>(format!("{URL}?table={table}&pool_size=2")).await
}

/// A column: name, type, length, nullable, default.
pub type Column = (String, String, Option<i32>, String, Option<String>);

/// `table`'s columns by position and its index definitions by name, with the table's name
/// written `T`, so two tables of the same layout compare equal.
pub async fn layout(pool: &sqlx::PgPool, table: &str) -> (Vec<Column>, Vec<String>) {
    let columns = sqlx::query_as(
        "SELECT column_name::text, data_type::text, character_maximum_length, \
         is_nullable::text, column_default::text \
         FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .unwrap_or_else(|e| panic!("reading the layout of {table}: {e}"));
    let indexes: Vec<(String,)> =
        sqlx::query_as("SELECT indexdef FROM pg_indexes WHERE tablename = $1 ORDER BY indexname")
            .bind(table)
            .fetch_all(pool)
            .await
            .unwrap_or_else(|e| panic!("reading the indexes of {table}: {e}"));
    let indexes = indexes
        .into_iter()
        .map(|(d,)| d.replace(table, "T"))
        .collect();
    (columns, indexes)
}
