//! Outages as a handler sees them: an exhausted pool and connections killed by the server
//! give `Error::Backend` (never "unknown session", never a new cookie), and the same manager
//! recovers once the database is usable again.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::sync::Arc;

use session_core::{Error, Manager, Provider};
use session_mysql::{MySqlConfig, MySqlStore};
use session_sqlx::testing;

async fn manager(config: String) -> (Manager, Arc<MySqlStore>) {
    let config: MySqlConfig = config.parse().unwrap();
    let store = MySqlStore::open(config, &common::context(1 << 20))
        .await
        .unwrap_or_else(|e| panic!("MariaDB at {} is not reachable: {e}", common::URL));
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
    let config = format!(
        "{}?table={}&pool_size=2&acquire_timeout=2",
        common::URL,
        tables.add()
    );
    let (manager, store) = manager(config).await;
    let cookie = testing::create(&manager, "v").await;
    let admin = common::admin_pool().await;

    // The server-side thread IDs of both pooled connections.
    let mut held = vec![
        store.pool().get().await.unwrap(),
        store.pool().get().await.unwrap(),
    ];
    let mut threads = Vec::new();
    for conn in &mut held {
        let (id,): (u64,) = sqlx::query_as("SELECT CAST(CONNECTION_ID() AS UNSIGNED)")
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        threads.push(id);
    }
    drop(held);

    // Requests run while the server kills those connections.
    let kill = async {
        let mut killed = 0;
        for thread in &threads {
            // A thread ID is a number the server handed out, not input: safe to format.
            let done = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("KILL CONNECTION {thread}")))
                .execute(&admin)
                .await;
            if done.is_ok() {
                killed += 1;
            }
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
    let config = "root:@tcp(127.0.0.1:1)/test?acquire_timeout=1";
    let opened = session_mysql::MySqlProvider
        .open(config, &common::context(1 << 20))
        .await;
    match opened {
        Err(e @ Error::Backend { .. }) => assert!(e.to_string().contains("`mysql`"), "{e}"),
        Err(e) => panic!("expected Error::Backend, got {e:?}"),
        Ok(_) => panic!("opened a store on a closed port"),
    }
}
