//! The whole provider conformance suite against the machine's MariaDB, one fresh table per
//! store (the suite counts sessions).

mod common;

use session_core::conformance;
use session_core::{Provider, ProviderContext};
use session_mysql::MySqlProvider;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mysql_passes_the_conformance_suite() {
    let tables = common::Tables::default();
    let factory = {
        let tables = tables.clone();
        move |ctx: ProviderContext| {
            let config = format!("{}?table={}&pool_size=4", common::URL, tables.add());
            async move { MySqlProvider.open(&config, &ctx).await }
        }
    };
    let report = conformance::run(&factory).await;
    println!("{}", report.table());
    tables.drop_all().await;
    report.assert_passed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mysql_passes_the_conformance_suite_with_the_go_dsn_form() {
    let tables = common::Tables::default();
    let factory = {
        let tables = tables.clone();
        move |ctx: ProviderContext| {
            let config = format!(
                "root:@tcp(127.0.0.1:3306)/test?charset=utf8&table={}&max_connections=4",
                tables.add()
            );
            async move { MySqlProvider.open(&config, &ctx).await }
        }
    };
    let report = conformance::run(&factory).await;
    tables.drop_all().await;
    report.assert_passed();
}
