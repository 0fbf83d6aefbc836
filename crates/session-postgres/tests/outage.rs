//! Outages as a handler sees them: connections killed by the server give `Error::Backend`
//! (never "unknown session", never a new cookie), and the same manager recovers once the
//! database is usable again. (An exhausted pool and a server down at start-up are in
//! `session_sqlx::sql_provider_tests!`, run from `sql.rs`.)

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::time::Duration;

use session_sqlx::testing::suite::Outage;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_connections_give_backend_errors_then_recover() {
    let app = format!("sess_kill_{}", &common::unique_table()[10..]);
    let outage = Outage::<common::Server>::new(&format!("&application_name={app}")).await;

    // Requests run while the server terminates the pool's connections.
    let kill = async {
        let mut killed = 0;
        for _ in 0..5 {
            let (n,): (i64,) = sqlx::query_as(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = 'test' AND pid <> pg_backend_pid() AND application_name = $1",
            )
            .bind(&app)
            .fetch_one(&outage.admin)
            .await
            .unwrap();
            killed += usize::try_from(n).unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        killed
    };
    outage.run(kill).await;
    outage.end().await;
}
