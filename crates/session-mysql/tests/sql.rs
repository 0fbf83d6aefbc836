//! What the provider does in the database: the registry name, the schema it creates and the
//! query plans through its indexes; then the tests every sqlx-based provider runs
//! (`session_sqlx::sql_provider_tests!`).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use session_core::{Error, Manager, RawStore, Registry, SessionId, Write};
use session_mysql::{MySqlConfig, MySqlProvider, MySqlStore, TableName};
use session_sqlx::testing;
use session_sqlx::testing::suite::{self, Fixture};
use sqlx::Row;

#[tokio::test]
async fn registered_as_mysql_and_opened_from_the_macaron_form() {
    let tables = common::Tables::default();
    let config = format!(
        "root:@tcp(127.0.0.1:3306)/test?charset=utf8&table={}",
        tables.add()
    );
    let (manager, cookie) = testing::registered_and_working(MySqlProvider, config).await;
    let session = manager.load([cookie.as_str()]);
    session.set_owner(Some("Zoë 🦀")).await.unwrap();
    session.commit().await.unwrap();
    // A 4-byte character survives a Go DSN's `charset=utf8`, and owners compare exactly.
    assert_eq!(manager.owner_sessions("Zoë 🦀").await.unwrap().len(), 1);
    assert!(manager.owner_sessions("zoë 🦀").await.unwrap().is_empty());
    assert!(manager.owner_sessions("Zoe 🦀").await.unwrap().is_empty());

    // The URL form with an empty password and parameters only sqlx knows.
    let config = format!(
        "mysql://root:@127.0.0.1:3306/test?charset=utf8&time-zone=%2B00:00&table={}",
        tables.add()
    );
    let registry = Registry::new().with(MySqlProvider).unwrap();
    let manager = Manager::new(testing::options("mysql", config), &registry)
        .await
        .unwrap();
    assert_eq!(manager.count().await.unwrap(), 0);
    tables.drop_all().await;
}

#[tokio::test]
async fn config_errors_come_before_any_connection() {
    suite::config_errors_come_before_any_connection::<common::Server>(&[
        ("root:@tcp(127.0.0.1:3306)/test?colour=blue", "colour"),
        (
            "root:@tcp(127.0.0.1:3306)/test?table=x;%20DROP%20TABLE%20y",
            "table",
        ),
        ("mysql://root@127.0.0.1/test?table=a.b.c", "table"),
        ("mysql://root@127.0.0.1/test?ssl-mode=REQUIRED", "ssl-mode"),
        ("root:@tcp(127.0.0.1:3306)/test?tls=true", "tls"),
    ])
    .await;
}

#[tokio::test]
async fn a_record_limit_beyond_max_allowed_packet_is_a_config_error() {
    let tables = common::Tables::default();
    let config: MySqlConfig = format!("{}?table={}", common::URL, tables.add())
        .parse()
        .unwrap();
    match MySqlStore::open(config, &common::context(1 << 30)).await {
        Err(Error::Config { field, message }) => {
            assert_eq!(field, "max_record_size");
            assert!(message.contains("max_allowed_packet"), "{message}");
        }
        other => panic!("expected a config error, got {other:?}"),
    }
    tables.drop_all().await;
}

#[tokio::test]
async fn creates_the_documented_schema() {
    let fixture = Fixture::<common::Server>::new().await;
    let (columns, engine, indexes) = common::layout(&fixture.admin, &fixture.table).await;
    let columns: Vec<_> = columns
        .iter()
        .map(|(n, t, null, c, d)| {
            (
                n.as_str(),
                t.as_str(),
                null.as_str(),
                c.as_deref(),
                d.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        columns,
        [
            ("id", "varchar(128)", "NO", Some("ascii_bin"), None),
            ("data", "longblob", "NO", None, None),
            ("expires_at", "bigint(20)", "NO", None, None),
            ("version", "bigint(20) unsigned", "NO", None, None),
            (
                "owner",
                "varchar(255)",
                "YES",
                Some("utf8mb4_bin"),
                Some("NULL")
            ),
            ("gc_after", "bigint(20)", "NO", None, Some("0")),
        ]
    );
    assert_eq!(engine, "InnoDB");
    let indexes: Vec<_> = indexes
        .iter()
        .map(|(i, c)| (i.as_str(), c.as_str()))
        .collect();
    assert_eq!(
        indexes,
        [
            ("gc_after_idx", "gc_after"),
            ("owner_idx", "owner"),
            ("PRIMARY", "id")
        ]
    );
    fixture.end().await;
}

#[tokio::test]
async fn an_owner_longer_than_the_column_is_refused_before_writing() {
    let tables = common::Tables::default();
    let store = common::store(&tables.add()).await;
    let id = suite::owner_is_refused_before_writing(&store, &"é".repeat(256)).await;
    let fits = "é".repeat(255);
    let write = Write {
        body: b"x",
        expires_at: 1,
        ttl_ms: 1,
        owner: Some(&fits),
    };
    store.insert(&id, write).await.unwrap();
    assert_eq!(store.owner_sessions(&fits, 0).await.unwrap(), [id]);
    tables.drop_all().await;
}

/// `EXPLAIN` of `statement` with its two `?` bound to `now`: (access type, key) of its first row.
async fn plan(pool: &sqlx::MySqlPool, statement: String, now: i64) -> (String, Option<String>) {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN {statement}")))
        .bind(now)
        .bind(now)
        .fetch_one(pool)
        .await
        .unwrap();
    (row.get("type"), row.get("key"))
}

#[tokio::test]
async fn gc_and_owner_queries_use_their_indexes() {
    let fixture = Fixture::<common::Server>::for_plans().await;
    let (table, pool) = (&fixture.table, &fixture.admin);
    let t = TableName::parse(table).unwrap().quoted();

    let gc = plan(
        pool,
        format!("DELETE FROM {t} WHERE `gc_after` <= ? AND `expires_at` <= ? LIMIT 1000"),
        10_000,
    )
    .await;
    println!("gc: {gc:?}");
    assert_eq!(gc, ("range".to_owned(), Some("gc_after_idx".to_owned())));

    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "EXPLAIN SELECT `id` FROM {t} WHERE `owner` = ? AND `expires_at` > ?"
    )))
    .bind("alice")
    .bind(0i64)
    .fetch_one(pool)
    .await
    .unwrap();
    let key: Option<String> = row.get("key");
    println!("owner: {key:?}");
    assert_eq!(key.as_deref(), Some("owner_idx"));

    // A read by ID is a primary-key lookup: the bound ID's collation does not get in the way.
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "EXPLAIN SELECT `data`, `version`, `expires_at` FROM {t} WHERE `id` = ?"
    )))
    .bind(testing::nth_id(1)) // a stored ID
    .fetch_one(pool)
    .await
    .unwrap();
    let (access, key): (String, Option<String>) = (row.get("type"), row.get("key"));
    println!("read: {access} {key:?}");
    assert_eq!(
        (access.as_str(), key.as_deref()),
        ("const", Some("PRIMARY"))
    );

    fixture.end().await;
}

#[tokio::test]
async fn touch_with_an_unchanged_expiry_still_finds_the_record() {
    // MySQL reports changed rows, not matched ones, unless the client asks otherwise: a touch
    // that sets the expiry it already has must still report the record as present.
    let tables = common::Tables::default();
    let store = common::store(&tables.add()).await;
    let id = SessionId::generate(32).unwrap();
    let write = Write {
        body: b"x",
        expires_at: 5_000,
        ttl_ms: 1,
        owner: None,
    };
    store.insert(&id, write).await.unwrap();
    assert!(store.touch(&id, 5_000, 1).await.unwrap());
    assert!(store.touch(&id, 5_000, 1).await.unwrap());
    drop(store);
    tables.drop_all().await;
}

session_sqlx::sql_provider_tests!(common::Server);
