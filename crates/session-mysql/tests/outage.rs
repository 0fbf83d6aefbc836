//! Outages as a handler sees them: connections killed by the server give `Error::Backend`
//! (never "unknown session", never a new cookie), and the same manager recovers once the
//! database is usable again. (An exhausted pool and a server down at start-up are in
//! `session_sqlx::sql_provider_tests!`, run from `sql.rs`.)

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use session_sqlx::testing::suite::Outage;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_connections_give_backend_errors_then_recover() {
    let outage = Outage::<common::Server>::new("").await;

    // The server-side thread IDs of both pooled connections.
    let mut held = vec![
        outage.store.pool().get().await.unwrap(),
        outage.store.pool().get().await.unwrap(),
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
                .execute(&outage.admin)
                .await;
            if done.is_ok() {
                killed += 1;
            }
        }
        killed
    };
    outage.run(kill).await;
    outage.end().await;
}
