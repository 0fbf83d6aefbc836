//! The whole provider conformance suite against the machine's PostgreSQL, one fresh table
//! per store (the suite counts sessions).

mod common;

use session_core::conformance;
use session_core::{Provider, ProviderContext};
use session_postgres::PostgresProvider;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_passes_the_conformance_suite() {
    let tables = common::Tables::default();
    let factory = {
        let tables = tables.clone();
        move |ctx: ProviderContext| {
            let config = format!("{}?table={}&pool_size=4", common::URL, tables.add());
            async move { PostgresProvider.open(&config, &ctx).await }
        }
    };
    let report = conformance::run(&factory).await;
    println!("{}", report.table());
    tables.drop_all().await;
    report.assert_passed();
}
