//! Outages as a handler sees them: an exhausted pool and connections killed by the server
//! give `Error::Backend` (never "unknown session", never a new cookie), and the same manager
//! recovers once the database is usable again.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::sync::Arc;
use std::time::Duration;

use session_core::{Error, Manager, Options, Provider, SystemClock};
use session_mysql::{MySqlConfig, MySqlStore};

fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or_default().to_owned()
}

async fn manager(config: String) -> (Manager, Arc<MySqlStore>) {
    let config: MySqlConfig = config.parse().unwrap();
    let store = MySqlStore::connect(config, &common::context(1 << 20))
        .await
        .unwrap_or_else(|e| panic!("MariaDB at {} is not reachable: {e}", common::URL));
    let store = Arc::new(store);
    let manager =
        Manager::with_store(Options::default(), store.clone(), Arc::new(SystemClock)).unwrap();
    (manager, store)
}

async fn create(manager: &Manager, value: &str) -> String {
    let session = manager.load([]);
    session.set("k", value).await.unwrap();
    cookie_pair(&session.commit().await.unwrap().set_cookie.unwrap())
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
    let cookie = create(&manager, "v").await;

    // Another user of the pool holds its only connection.
    let held = store.pool().get().await.unwrap();

    let session = manager.load([cookie.as_str()]);
    let read = session.get::<String>("k").await;
    assert!(matches!(read, Err(Error::Backend { .. })), "{read:?}");
    assert!(read.unwrap_err().is_backend());
    assert!(
        session.commit().await.is_err(),
        "commit must fail, not send a cookie replacing the client's ID"
    );

    // A new session cannot be stored either: commit fails instead of handing out a cookie
    // for a session that does not exist.
    let fresh = manager.load([]);
    fresh.set("k", "new").await.unwrap();
    let commit = fresh.commit().await;
    assert!(matches!(commit, Err(Error::Backend { .. })), "{commit:?}");

    assert!(matches!(manager.count().await, Err(Error::Backend { .. })));
    assert!(matches!(manager.gc().await, Err(Error::Backend { .. })));

    // The connection comes back: the same manager works, and the session is intact.
    drop(held);
    // Recovery is awaited, within a bound, rather than assumed to be instant: the pool may
    // have to check or replace the connection first.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let session = loop {
        let session = manager.load([cookie.as_str()]);
        match session.get::<String>("k").await {
            Ok(value) => {
                assert_eq!(value.as_deref(), Some("v"));
                break session;
            }
            Err(e) if e.is_backend() && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("the manager did not recover: {e}"),
        }
    };
    session.set("k", "after").await.unwrap();
    assert_eq!(session.commit().await.unwrap().set_cookie, None);
    let session = manager.load([cookie.as_str()]);
    assert_eq!(
        session.get::<String>("k").await.unwrap().as_deref(),
        Some("after")
    );
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
    let cookie = create(&manager, "v").await;
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
    let mut requests = Vec::new();
    for _ in 0..8 {
        let manager = manager.clone();
        let cookie = cookie.clone();
        requests.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for _ in 0..25 {
                let session = manager.load([cookie.as_str()]);
                let got = session.get::<String>("k").await;
                let _ = session.commit().await;
                outcomes.push(got);
                tokio::task::yield_now().await;
            }
            outcomes
        }));
    }
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
    assert!(killed > 0, "no connection of the pool was killed");

    let mut errors = 0;
    for request in requests {
        for outcome in request.await.unwrap() {
            match outcome {
                Ok(value) => assert_eq!(
                    value.as_deref(),
                    Some("v"),
                    "an outage must never look like an unknown session"
                ),
                Err(e) => {
                    assert!(matches!(e, Error::Backend { .. }), "{e:?}");
                    errors += 1;
                }
            }
        }
    }
    println!("{killed} connections killed, {errors} requests failed with Error::Backend");

    // Recovery with the same manager (the pool reconnects on its own).
    let mut recovered = false;
    for _ in 0..20 {
        let session = manager.load([cookie.as_str()]);
        if let Ok(value) = session.get::<String>("k").await {
            assert_eq!(value.as_deref(), Some("v"));
            recovered = session.commit().await.is_ok();
            if recovered {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(recovered, "the manager did not recover after the kill");
    assert!(manager.count().await.unwrap() >= 1);

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
