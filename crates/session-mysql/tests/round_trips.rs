//! Each session operation is one command to the server (one round trip), regenerate two. A
//! pool that pinged connections on their way back (as sqlx's own does) would add a
//! `COM_PING` to every operation; the server's per-connection command counters would show it.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use session_mysql::{MySqlConfig, MySqlStore};
use session_sqlx::testing;
use sqlx::{Connection, Row};

/// Commands the server counted on the pool's one connection: `COM_PING` (with other admin
/// commands), `COM_STMT_EXECUTE`, `COM_STMT_PREPARE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counters {
    admin: u64,
    execute: u64,
    prepare: u64,
}

async fn counters(store: &MySqlStore) -> Counters {
    let mut conn = store.pool().get().await.unwrap();
    // Text protocol (`COM_QUERY`), so reading the counters moves none of them.
    let rows = sqlx::raw_sql(
        "SHOW SESSION STATUS WHERE Variable_name IN \
         ('Com_admin_commands', 'Com_stmt_execute', 'Com_stmt_prepare')",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let value = |name: &str| -> u64 {
        let row = rows
            .iter()
            .find(|row| row.get::<String, _>(0).eq_ignore_ascii_case(name))
            .unwrap_or_else(|| panic!("the server reports no {name}"));
        row.get::<String, _>(1).parse().unwrap()
    };
    Counters {
        admin: value("Com_admin_commands"),
        execute: value("Com_stmt_execute"),
        prepare: value("Com_stmt_prepare"),
    }
}

/// Runs every operation once; returns how many statements that should take.
async fn every_operation(store: &MySqlStore) -> u64 {
    let operations = testing::every_operation(store).await;
    // Regenerate is two statements: the insert of the new row, then the conditional delete
    // of the old one.
    u64::try_from(operations).unwrap() + 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_is_one_command() {
    let tables = common::Tables::default();
    let config: MySqlConfig = format!("{}?table={}&pool_size=1", common::URL, tables.add())
        .parse()
        .unwrap();
    let store = MySqlStore::open(config, &common::context(1 << 20))
        .await
        .unwrap_or_else(|e| panic!("MariaDB at {} is not reachable: {e}", common::URL));

    // The counter that would show sqlx's ping does count one.
    let before = counters(&store).await;
    store.pool().get().await.unwrap().ping().await.unwrap();
    assert_eq!(counters(&store).await.admin, before.admin + 1);

    // sqlx prepares a statement on its first use on a connection, a command of its own:
    // count only once every statement is prepared on the pool's one connection.
    every_operation(&store).await;
    let before = counters(&store).await;
    let statements = every_operation(&store).await + every_operation(&store).await;
    let after = counters(&store).await;
    assert_eq!(
        after,
        Counters {
            admin: before.admin,
            execute: before.execute + statements,
            prepare: before.prepare,
        },
        "no ping and no other command besides the {statements} statements"
    );

    drop(store);
    tables.drop_all().await;
}
