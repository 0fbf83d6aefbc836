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

/// Tables created by a test, dropped by [`Tables::drop_all`] at its end, or when the last
/// handle is dropped if the test panicked before that.
#[derive(Clone, Default)]
pub struct Tables(Arc<Names>);

#[derive(Default)]
pub struct Names(Mutex<Vec<String>>);

impl Tables {
    pub fn add(&self) -> String {
        let name = unique_table();
        self.0.0.lock().unwrap().push(name.clone());
        name
    }

    pub async fn drop_all(&self) {
        let names = std::mem::take(&mut *self.0.0.lock().unwrap());
        drop_tables(names).await;
    }
}

impl Drop for Names {
    fn drop(&mut self) {
        let names = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        if names.is_empty() {
            return;
        }
        // A panicking test never reached `drop_all`: clean up on a runtime of our own.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(drop_tables(names));
        })
        .join();
    }
}

async fn drop_tables(names: Vec<String>) {
    if names.is_empty() {
        return;
    }
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
