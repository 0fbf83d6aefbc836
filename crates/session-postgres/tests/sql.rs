//! What the provider does in the database: the registry name, the schema it creates, bound
//! parameters for hostile strings, batched GC, and query plans through the expiry index.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::sync::Arc;

use session_core::{Error, Manager, RawStore, Registry, SessionId, Write};
use session_postgres::{PostgresConfig, PostgresProvider, PostgresStore, schema_sql};
use session_sqlx::testing;
use sqlx::Row;

async fn store(table: &str) -> PostgresStore {
    let config: PostgresConfig = format!("{}?table={table}&pool_size=2", common::URL)
        .parse()
        .unwrap();
    PostgresStore::open(config, &common::context(1 << 20))
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {} is not reachable: {e}", common::URL))
}

#[tokio::test]
async fn registered_as_postgres_and_opened_from_the_macaron_form() {
    let tables = common::Tables::default();
    let config = format!(
        "user=postgres host=127.0.0.1 port=5432 dbname=test sslmode=disable table={}",
        tables.add()
    );
    testing::registered_and_working(PostgresProvider, config).await;
    tables.drop_all().await;
}

#[tokio::test]
async fn config_errors_come_before_any_connection() {
    let registry = Registry::new().with(PostgresProvider).unwrap();
    for (config, field) in [
        ("user=postgres colour=blue", "colour"),
        ("user=postgres table='x; DROP TABLE y'", "table"),
        ("postgres://postgres@127.0.0.1/test?table=a.b.c", "table"),
        (
            "postgres://postgres@127.0.0.1/test?sslmode=require",
            "sslmode",
        ),
    ] {
        match Manager::new(testing::options("postgres", config.into()), &registry).await {
            Err(Error::Config { field: got, .. }) => assert_eq!(got, field, "{config}"),
            other => panic!("{config}: expected a config error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn creates_the_documented_schema() {
    let tables = common::Tables::default();
    let table = tables.add();
    let store = store(&table).await;
    let pool = common::admin_pool().await;
    let columns: Vec<(String, String, Option<i32>, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text, character_maximum_length, is_nullable::text \
         FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position",
    )
    .bind(&table)
    .fetch_all(&pool)
    .await
    .unwrap();
    let expected = [
        ("id", "character varying", Some(128), "NO"),
        ("data", "bytea", None, "NO"),
        ("expires_at", "bigint", None, "NO"),
        ("version", "bigint", None, "NO"),
        ("owner", "text", None, "YES"),
    ];
    let columns: Vec<_> = columns
        .iter()
        .map(|(n, t, l, null)| (n.as_str(), t.as_str(), *l, null.as_str()))
        .collect();
    assert_eq!(columns, expected);
    let indexes: Vec<(String,)> =
        sqlx::query_as("SELECT indexdef FROM pg_indexes WHERE tablename = $1 ORDER BY indexname")
            .bind(&table)
            .fetch_all(&pool)
            .await
            .unwrap();
    let indexes: Vec<&str> = indexes.iter().map(|(d,)| d.as_str()).collect();
    assert_eq!(indexes.len(), 3, "{indexes:?}");
    assert!(indexes.iter().any(|d| d.contains("(expires_at)")));
    assert!(
        indexes
            .iter()
            .any(|d| d.contains("(owner) WHERE (owner IS NOT NULL)"))
    );
    assert!(
        indexes
            .iter()
            .any(|d| d.contains("UNIQUE") && d.contains("(id)"))
    );
    drop(store);
    pool.close().await;
    tables.drop_all().await;
}

#[tokio::test]
async fn works_on_a_table_created_from_schema_sql() {
    let tables = common::Tables::default();
    let table = tables.add();
    let pool = common::admin_pool().await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(schema_sql(&table).unwrap()))
        .execute(&pool)
        .await
        .unwrap();
    let store = store(&table).await;
    testing::longest_id_and_far_expiry_read_back(&store).await;
    pool.close().await;
    tables.drop_all().await;
}

#[tokio::test]
async fn hostile_strings_are_bound_parameters() {
    let tables = common::Tables::default();
    let table = tables.add();
    let manager = testing::manager(Arc::new(store(&table).await));

    // Owners are free text: quotes and SQL must be stored and matched verbatim.
    let owner = "o'brien\"; DROP TABLE sessions; -- \\ $1 ' OR '1'='1";
    testing::hostile_strings_are_bound_parameters(&manager, owner).await;

    let pool = common::admin_pool().await;
    let stored: Vec<(Option<String>,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT owner FROM \"{table}\" ORDER BY owner NULLS FIRST"
    )))
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(stored, [(None,), (Some(owner.to_owned()),)]);
    assert_eq!(manager.count().await.unwrap(), 2, "the table is intact");
    pool.close().await;
    tables.drop_all().await;
}

#[tokio::test]
async fn gc_deletes_in_batches_until_none_is_left() {
    let tables = common::Tables::default();
    let table = tables.add();
    let store = store(&table).await;
    let pool = common::admin_pool().await;
    // 2 500 expired rows (more than two GC batches) and 5 live ones.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO \"{table}\" (id, data, expires_at, version) \
         SELECT md5(i::text), '\\x00', CASE WHEN i <= 2500 THEN 1000 ELSE 10000 END, 1 \
         FROM generate_series(1, 2505) AS i"
    )))
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(store.gc(1000).await.unwrap(), 2500);
    assert_eq!(store.count(0).await.unwrap(), 5);
    assert_eq!(store.gc(1000).await.unwrap(), 0);
    pool.close().await;
    tables.drop_all().await;
}

/// The plan of `statement` (with `$1` bound to `now`) as one string.
async fn plan(pool: &sqlx::PgPool, statement: String, now: i64) -> String {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN {statement}")))
        .bind(now)
        .fetch_all(pool)
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.get::<String, _>(0))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn gc_count_and_owner_queries_use_their_indexes() {
    let tables = common::Tables::default();
    let table = tables.add();
    let store = store(&table).await;
    let pool = common::admin_pool().await;
    // 5 000 sessions expiring one second apart, a few bound to an owner.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO \"{table}\" (id, data, expires_at, version, owner) \
         SELECT md5(i::text), '\\x00', i * 1000, 1, CASE WHEN i % 1000 = 0 THEN 'alice' END \
         FROM generate_series(1, 5000) AS i"
    )))
    .execute(&pool)
    .await
    .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("ANALYZE \"{table}\"")))
        .execute(&pool)
        .await
        .unwrap();
    let t = format!("\"{table}\"");
    let expiry_index = format!("{table}_expires_at_idx");

    // GC right after the first ten sessions expired: the batch is found through the index.
    let gc = plan(
        &pool,
        format!(
            "DELETE FROM {t} WHERE expires_at <= $1 AND id IN (SELECT id FROM {t} \
             WHERE expires_at <= $1 LIMIT 1000 FOR UPDATE SKIP LOCKED)"
        ),
        10_000,
    )
    .await;
    println!("{gc}");
    assert!(
        gc.contains(&expiry_index),
        "GC does not use the expiry index:\n{gc}"
    );

    // Count when few sessions are still live.
    let count = plan(
        &pool,
        format!("SELECT count(*) FROM {t} WHERE expires_at > $1"),
        4_990_000,
    )
    .await;
    println!("{count}");
    assert!(
        count.contains(&expiry_index),
        "count does not use the expiry index:\n{count}"
    );

    let owner = sqlx::query(sqlx::AssertSqlSafe(format!(
        "EXPLAIN SELECT id FROM {t} WHERE owner = $1 AND expires_at > $2"
    )))
    .bind("alice")
    .bind(0i64)
    .fetch_all(&pool)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<String, _>(0))
    .collect::<Vec<_>>()
    .join("\n");
    println!("{owner}");
    assert!(owner.contains(&format!("{table}_owner_idx")), "{owner}");

    drop(store);
    pool.close().await;
    tables.drop_all().await;
}

#[tokio::test]
async fn provider_open_returns_a_working_store() {
    let tables = common::Tables::default();
    let config = format!("{}?table={}", common::URL, tables.add());
    testing::open_instances(PostgresProvider, &config, 1).await;
    tables.drop_all().await;
}

#[tokio::test]
async fn an_owner_postgres_cannot_store_is_refused_before_writing() {
    let tables = common::Tables::default();
    let store = store(&tables.add()).await;
    let id = SessionId::generate(32).unwrap();
    let write = Write {
        body: b"x",
        expires_at: 1,
        ttl_ms: 1,
        owner: Some("nul\0inside"),
    };
    let result = store.insert(&id, write).await;
    assert!(
        matches!(&result, Err(Error::Encode { key, .. }) if key == "owner"),
        "{result:?}"
    );
    assert!(!store.exist(&id).await.unwrap());
    drop(store);
    tables.drop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_starting_together_create_the_table_once() {
    // Concurrent `CREATE TABLE IF NOT EXISTS` can fail in PostgreSQL; the provider serialises
    // schema creation with an advisory lock.
    let tables = common::Tables::default();
    let config = format!("{}?table={}&pool_size=1", common::URL, tables.add());
    testing::open_instances(PostgresProvider, &config, 6).await;
    tables.drop_all().await;
}
