//! What the provider does in the database: the registry name, the schema it creates and the
//! query plans through its indexes; then the tests every sqlx-based provider runs
//! (`session_sqlx::sql_provider_tests!`).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use session_postgres::PostgresProvider;
use session_sqlx::testing;
use session_sqlx::testing::suite::{self, Fixture};
use sqlx::Row;

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
    suite::config_errors_come_before_any_connection::<common::Server>(&[
        ("user=postgres colour=blue", "colour"),
        ("user=postgres table='x; DROP TABLE y'", "table"),
        ("postgres://postgres@127.0.0.1/test?table=a.b.c", "table"),
        (
            "postgres://postgres@127.0.0.1/test?sslmode=require",
            "sslmode",
        ),
    ])
    .await;
}

#[tokio::test]
async fn creates_the_documented_schema() {
    let fixture = Fixture::<common::Server>::new().await;
    let (table, pool) = (&fixture.table, &fixture.admin);
    let columns: Vec<(String, String, Option<i32>, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text, character_maximum_length, is_nullable::text \
         FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(pool)
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
            .bind(table)
            .fetch_all(pool)
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
    fixture.end().await;
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
    let fixture = Fixture::<common::Server>::for_plans().await;
    let (table, pool) = (&fixture.table, &fixture.admin);
    let t = format!("\"{table}\"");
    let expiry_index = format!("{table}_expires_at_idx");

    // GC right after the first ten sessions expired: the batch is found through the index.
    let gc = plan(
        pool,
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
        pool,
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
    .fetch_all(pool)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<String, _>(0))
    .collect::<Vec<_>>()
    .join("\n");
    println!("{owner}");
    assert!(owner.contains(&format!("{table}_owner_idx")), "{owner}");

    fixture.end().await;
}

#[tokio::test]
async fn an_owner_postgres_cannot_store_is_refused_before_writing() {
    let tables = common::Tables::default();
    let store = common::store(&tables.add()).await;
    suite::owner_is_refused_before_writing(&store, "nul\0inside").await;
    drop(store);
    tables.drop_all().await;
}

session_sqlx::sql_provider_tests!(common::Server);
