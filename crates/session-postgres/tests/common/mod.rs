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
