//! What the provider does in the database: the registry name, the schema it creates and the
//! query plans through its indexes; then the tests every sqlx-based provider runs
//! (`session_sqlx::sql_provider_tests!`).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use session_core::{Inserted, RawStore, Saved, SessionId, Write};
use session_postgres::{PostgresProvider, PostgresStore};
use session_sqlx::Lease;
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
    let (columns, indexes) = common::layout(&fixture.admin, &fixture.table).await;
    let columns: Vec<_> = columns
        .iter()
        .map(|(n, t, l, null, d)| (n.as_str(), t.as_str(), *l, null.as_str(), d.as_deref()))
        .collect();
    assert_eq!(
        columns,
        [
            ("id", "character varying", Some(128), "NO", None),
            ("data", "bytea", None, "NO", None),
            ("expires_at", "bigint", None, "NO", None),
            ("version", "bigint", None, "NO", None),
            ("owner", "text", None, "YES", None),
            ("gc_after", "bigint", None, "NO", Some("0")),
        ]
    );
    assert_eq!(
        indexes,
        [
            "CREATE INDEX T_gc_after_idx ON public.T USING btree (gc_after)",
            "CREATE INDEX T_owner_idx ON public.T USING btree (owner) WHERE (owner IS NOT NULL)",
            "CREATE UNIQUE INDEX T_pkey ON public.T USING btree (id)",
        ]
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
async fn gc_and_owner_queries_use_their_indexes() {
    let fixture = Fixture::<common::Server>::for_plans().await;
    let (table, pool) = (&fixture.table, &fixture.admin);
    let t = format!("\"{table}\"");
    let gc_index = format!("{table}_gc_after_idx");

    // GC right after the first ten sessions expired: the batch is found through the index.
    let gc = plan(
        pool,
        format!(
            "DELETE FROM {t} WHERE gc_after <= $1 AND expires_at <= $1 AND id IN (\
             SELECT id FROM {t} WHERE gc_after <= $1 AND expires_at <= $1 \
             LIMIT 1000 FOR UPDATE SKIP LOCKED)"
        ),
        10_000,
    )
    .await;
    println!("{gc}");
    assert!(gc.contains(&gc_index), "GC does not use its index:\n{gc}");

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

/// `(n_tup_upd, n_tup_hot_upd)` of `table` once the store's one connection has flushed its
/// statistics: `pg_stat_force_next_flush()` makes the backend write its pending counts
/// before it answers the next query's end, so the figures include every save before it.
async fn updates(store: &PostgresStore, admin: &sqlx::PgPool, table: &str) -> (i64, i64) {
    let mut lease = Lease::acquire(store.pool()).await.unwrap();
    let flushed = sqlx::query("SELECT pg_stat_force_next_flush()")
        .execute(lease.conn().unwrap())
        .await;
    lease.release(flushed).unwrap();
    // The backend flushes as it goes idle, before it reports ready for the next query; one
    // more statement on the same connection puts that flush behind us whatever the order.
    let mut lease = Lease::acquire(store.pool()).await.unwrap();
    let done = sqlx::query("SELECT 1").execute(lease.conn().unwrap()).await;
    lease.release(done).unwrap();
    sqlx::query_as("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = $1")
        .bind(table)
        .fetch_one(admin)
        .await
        .unwrap()
}

#[tokio::test]
async fn saves_within_the_slack_are_hot_updates_and_a_save_past_the_mark_is_not() {
    let tables = common::Tables::default();
    let table = tables.add();
    // One connection, so `updates` flushes the backend that ran the saves.
    let store =
        testing::open::<common::Server>(format!("{}?table={table}&pool_size=1", common::URL)).await;
    let admin = common::admin_pool().await;
    let slack = session_core::index_slack(common::context(0).max_lifetime_ms);
    let write = |expires_at| Write {
        body: b"a session",
        expires_at,
        ttl_ms: 60_000,
        owner: Some("alice"),
    };
    let id = SessionId::generate(32).unwrap();
    let Inserted::Created(mut version) = store.insert(&id, write(1_000_000)).await.unwrap() else {
        panic!("insert did not create");
    };
    let before = updates(&store, &admin, &table).await;

    // 20 saves, each moving the expiry by 1 ms, all within the slack: the owner is written
    // with the value it has, `gc_after` keeps its value, and no indexed column changes.
    const SAVES: i64 = 20;
    for n in 1..=SAVES {
        let Saved::Saved(next) = store
            .save(&id, version, write(1_000_000 + n))
            .await
            .unwrap()
        else {
            panic!("save {n} failed");
        };
        version = next;
    }
    let after = updates(&store, &admin, &table).await;
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (SAVES, SAVES),
        "(updates, HOT updates) of {SAVES} saves within the slack"
    );

    // A save more than the slack past the mark moves it up: an index write, so not HOT.
    let (_, mark): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT expires_at, gc_after FROM \"{table}\""
    )))
    .fetch_one(&admin)
    .await
    .unwrap();
    assert_eq!(mark, 1_000_000);
    let Saved::Saved(_) = store
        .save(&id, version, write(mark + slack + 1))
        .await
        .unwrap()
    else {
        panic!("the save past the mark failed");
    };
    let raised: (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT expires_at, gc_after FROM \"{table}\""
    )))
    .fetch_one(&admin)
    .await
    .unwrap();
    assert_eq!(raised, (mark + slack + 1, mark + slack + 1));
    let last = updates(&store, &admin, &table).await;
    assert_eq!((last.0 - after.0, last.1 - after.1), (1, 0));

    admin.close().await;
    drop(store);
    tables.drop_all().await;
}

session_sqlx::sql_provider_tests!(common::Server);
