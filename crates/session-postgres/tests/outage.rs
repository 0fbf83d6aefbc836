//! Outages as a handler sees them: an exhausted pool and connections killed by the server
//! give `Error::Backend` (never "unknown session", never a new cookie), and the same manager
//! recovers once the database is usable again.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::sync::Arc;
use std::time::Duration;

use session_core::{Error, Manager, Provider};
use session_postgres::{PostgresConfig, PostgresStore};
use session_sqlx::testing;

async fn manager(config: String) -> (Manager, Arc<PostgresStore>) {
    let config: PostgresConfig = config.parse().unwrap();
    let store = PostgresStore::open(config, &common::context(1 << 20))
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {} is not reachable: {e}", common::URL));
    let store = Arc::new(store);
    (testing::manager(store.clone()), store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_pool_is_a_backend_error_and_recovers() {
    let tables = common::Tables::default();
    let config = format!(
        "{}?table={}&pool_size=1&acquire_timeout=0.5",
        common::URL,
        tables.add()
    );
    let (manager, store) = manager(config).await;
    testing::exhausted_pool_is_a_backend_error_and_recovers(&manager, store.pool()).await;
    drop((manager, store));
    tables.drop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_connections_give_backend_errors_then_recover() {
    let tables = common::Tables::default();
    let app = format!("sess_kill_{}", &common::unique_table()[10..]);
    let config = format!(
        "{}?table={}&pool_size=2&acquire_timeout=2&application_name={app}",
        common::URL,
        tables.add()
    );
    let (manager, store) = manager(config).await;
    let cookie = testing::create(&manager, "v").await;
    let admin = common::admin_pool().await;

    // Requests run while the server terminates the pool's connections.
    let kill = async {
        let mut killed = 0;
        for _ in 0..5 {
            let (n,): (i64,) = sqlx::query_as(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = 'test' AND pid <> pg_backend_pid() AND application_name = $1",
            )
            .bind(&app)
            .fetch_one(&admin)
            .await
            .unwrap();
            killed += usize::try_from(n).unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        killed
    };
    testing::killed_connections_give_backend_errors_then_recover(&manager, &cookie, kill).await;

    admin.close().await;
    drop((manager, store));
    tables.drop_all().await;
}

#[tokio::test]
async fn an_unreachable_server_at_start_is_a_backend_error() {
    // Port 1 on the loopback interface: nothing listens there, so the connection is refused.
    let config = "postgres://postgres@127.0.0.1:1/test?acquire_timeout=1";
    let opened = session_postgres::PostgresProvider
        .open(config, &common::context(1 << 20))
        .await;
    match opened {
        Err(e @ Error::Backend { .. }) => assert!(e.to_string().contains("`postgres`"), "{e}"),
        Err(e) => panic!("expected Error::Backend, got {e:?}"),
        Ok(_) => panic!("opened a store on a closed port"),
    }
}
