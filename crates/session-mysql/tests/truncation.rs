//! A non-strict `sql_mode` must not truncate a record silently. The table here is what a team
//! running its own migrations might create: `data BLOB` (64 KiB) instead of `LONGBLOB`.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::sync::Arc;
use std::time::Duration;

use deadpool::managed::{Hook, HookError};
use session_core::{
    Error, Inserted, Manager, Options, RawStore, Saved, SessionId, SystemClock, Write,
};
use session_mysql::{ConnectionManager, MySqlStore, Pool, TableName, schema_sql};
use sqlx::Executor;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};

const BLOB_MAX: usize = 65_535;

fn manager() -> ConnectionManager {
    let options: MySqlConnectOptions = common::URL.parse().unwrap();
    ConnectionManager::new(options, Duration::from_secs(5))
}

/// A provider pool whose sessions run with an empty (non-strict) `sql_mode`.
fn non_strict_pool() -> Pool {
    Pool::builder(manager())
        .max_size(2)
        .post_create(Hook::async_fn(|conn: &mut MySqlConnection, _| {
            Box::pin(async move {
                conn.execute("SET SESSION sql_mode = ''")
                    .await
                    .map_err(HookError::Backend)?;
                Ok(())
            })
        }))
        .build()
        .unwrap()
}

async fn blob_table(tables: &common::Tables) -> String {
    let table = tables.add();
    let admin = common::admin_pool().await;
    let schema = schema_sql(&table).unwrap().replace("LONGBLOB", "BLOB");
    sqlx::raw_sql(sqlx::AssertSqlSafe(schema))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    table
}

fn write(body: &[u8]) -> Write<'_> {
    Write {
        body,
        expires_at: i64::MAX,
        ttl_ms: 60_000,
        owner: None,
    }
}

#[tokio::test]
async fn non_strict_truncation_is_caught_and_rolled_back() {
    let tables = common::Tables::default();
    let table = blob_table(&tables).await;
    let pool = non_strict_pool();
    let mut conn = pool
        .get()
        .await
        .unwrap_or_else(|e| panic!("MariaDB at {} is not reachable: {e}", common::URL));
    let (mode,): (String,) = sqlx::query_as("SELECT @@SESSION.sql_mode")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert!(!mode.contains("STRICT"), "sql_mode is {mode:?}");

    // Without the guard, this server would store a 70 000-byte value cut to 64 KiB.
    let probe = SessionId::generate(32).unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO `{table}` (`id`, `data`, `expires_at`, `version`) VALUES (?, ?, 0, 1)"
    )))
    .bind(probe.as_str())
    .bind(vec![7u8; 70_000])
    .execute(&mut *conn)
    .await
    .unwrap();
    let (stored,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT LENGTH(`data`) FROM `{table}` WHERE `id` = ?"
    )))
    .bind(probe.as_str())
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(stored, BLOB_MAX as i64, "the server did not truncate");
    drop(conn);

    let store = MySqlStore::from_pool(
        pool,
        TableName::parse(&table).unwrap(),
        &common::context(1 << 20),
    )
    .await
    .unwrap();

    let id = SessionId::generate(32).unwrap();
    let Inserted::Created(v1) = store.insert(&id, write(&[1; 1000])).await.unwrap() else {
        panic!("insert did not create");
    };

    // A save that the column cannot hold: an error, and the record is unchanged.
    let big = vec![2u8; 70_000];
    match store.save(&id, v1, write(&big)).await {
        Err(Error::Backend { source, .. }) => {
            let message = source.to_string();
            assert!(message.contains("rolled back"), "{message}");
            assert!(message.contains("70000"), "{message}");
        }
        other => panic!("a truncating save was not Error::Backend: {other:?}"),
    }
    let stored = store.read(&id).await.unwrap().unwrap();
    assert_eq!((&stored.body[..], stored.version), (&[1; 1000][..], v1));

    // An insert that the column cannot hold leaves no record behind.
    let other = SessionId::generate(32).unwrap();
    let result = store.insert(&other, write(&big)).await;
    assert!(matches!(result, Err(Error::Backend { .. })), "{result:?}");
    assert!(!store.exist(&other).await.unwrap());

    // Exactly what the column holds is written (in one statement) and read back intact.
    let fits = vec![3u8; BLOB_MAX];
    let Saved::Saved(v2) = store.save(&id, v1, write(&fits)).await.unwrap() else {
        panic!("a record that fits was not saved");
    };
    let stored = store.read(&id).await.unwrap().unwrap();
    assert_eq!((&stored.body[..], stored.version), (&fits[..], v2));

    drop(store);
    tables.drop_all().await;
}

#[tokio::test]
async fn a_handler_sees_an_error_and_keeps_its_session() {
    let tables = common::Tables::default();
    let table = blob_table(&tables).await;
    let store = MySqlStore::from_pool(
        non_strict_pool(),
        TableName::parse(&table).unwrap(),
        &common::context(1 << 20),
    )
    .await
    .unwrap();
    let manager =
        Manager::with_store(Options::default(), Arc::new(store), Arc::new(SystemClock)).unwrap();
    let session = manager.load([]);
    session.set("k", "small").await.unwrap();
    let set = session.commit().await.unwrap().set_cookie.unwrap();
    let cookie = set.split(';').next().unwrap().to_owned();

    let session = manager.load([cookie.as_str()]);
    session.set("k", &"x".repeat(80_000)).await.unwrap();
    let commit = session.commit().await;
    assert!(matches!(commit, Err(Error::Backend { .. })), "{commit:?}");

    let session = manager.load([cookie.as_str()]);
    assert_eq!(
        session.get::<String>("k").await.unwrap().as_deref(),
        Some("small")
    );
    drop((session, manager));
    tables.drop_all().await;
}

#[tokio::test]
async fn strict_mode_refuses_the_same_write() {
    let tables = common::Tables::default();
    let table = blob_table(&tables).await;
    let store = MySqlStore::from_pool(
        manager().into_pool(2).unwrap(),
        TableName::parse(&table).unwrap(),
        &common::context(1 << 20),
    )
    .await
    .unwrap();
    let id = SessionId::generate(32).unwrap();
    let result = store.insert(&id, write(&[9; 70_000])).await;
    assert!(matches!(result, Err(Error::Backend { .. })), "{result:?}");
    assert!(!store.exist(&id).await.unwrap());
    drop(store);
    tables.drop_all().await;
}

#[tokio::test]
async fn records_over_the_limit_never_reach_the_server() {
    let tables = common::Tables::default();
    let store = MySqlStore::from_pool(
        non_strict_pool(),
        TableName::parse(&tables.add()).unwrap(),
        &common::context(4096),
    )
    .await
    .unwrap();
    let id = SessionId::generate(32).unwrap();
    let result = store.insert(&id, write(&[0; 4097])).await;
    assert!(
        matches!(
            result,
            Err(Error::TooLarge {
                size: 4097,
                limit: 4096
            })
        ),
        "{result:?}"
    );
    assert!(!store.exist(&id).await.unwrap());
    assert!(matches!(
        store.insert(&id, write(&[0; 4096])).await,
        Ok(Inserted::Created(_))
    ));
    drop(store);
    tables.drop_all().await;
}
