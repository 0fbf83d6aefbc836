//! The machine's PostgreSQL for the integration tests; the helpers themselves are
//! `session_sqlx::testing`'s.

#![allow(dead_code, unused_imports)] // each test binary uses a different subset

use session_sqlx::testing::TestServer;
use sqlx::postgres::{PgPool, Postgres};

pub use session_sqlx::testing::{context, unique_table};

pub const URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The test server, for `session_sqlx::testing`.
pub struct Server;

impl TestServer for Server {
    type Database = Postgres;
    const URL: &'static str = URL;
    const SERVER: &'static str = "PostgreSQL";

    fn quote(name: &str) -> String {
        format!("\"{name}\"")
    }
}

/// Tables created by a test, dropped at its end (or when a panicking test unwinds).
pub type Tables = session_sqlx::testing::Tables<Server>;

/// A pool for test-side inspection.
pub async fn admin_pool() -> PgPool {
    session_sqlx::testing::admin_pool::<Server>().await
}
