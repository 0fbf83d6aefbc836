//! Helpers shared by the integration tests: the machine's MariaDB, unique tables, cleanup.

#![allow(dead_code, clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use session_core::{ProviderContext, SessionId, SystemClock};
use sqlx::mysql::{MySqlPool, MySqlPoolOptions};

pub const URL: &str = "mysql://root@127.0.0.1:3306/test";

/// A table name no other test (or engineer) uses.
pub fn unique_table() -> String {
    let id = SessionId::generate(32).expect("random table name");
    format!("sess_test_{}", &id.as_str()[..16])
}

pub fn context(max_record_size: usize) -> ProviderContext {
    ProviderContext {
        clock: Arc::new(SystemClock),
        max_record_size,
        max_lifetime_ms: 60_000,
    }
}

/// A pool for test-side inspection; fails the test with a clear message when the server
/// cannot be reached.
pub async fn admin_pool() -> MySqlPool {
    MySqlPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(5))
        .connect(URL)
        .await
        .unwrap_or_else(|e| panic!("MariaDB at {URL} is not reachable: {e}"))
}

/// Tables created by a test, dropped by [`Tables::drop_all`] at its end.
#[derive(Clone, Default)]
pub struct Tables(Arc<Mutex<Vec<String>>>);

impl Tables {
    pub fn add(&self) -> String {
        let name = unique_table();
        self.0.lock().unwrap().push(name.clone());
        name
    }

    pub async fn drop_all(&self) {
        let names = std::mem::take(&mut *self.0.lock().unwrap());
        let pool = admin_pool().await;
        for name in names {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP TABLE IF EXISTS `{name}`"
            )))
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("dropping {name}: {e}"));
        }
        pool.close().await;
    }
}
