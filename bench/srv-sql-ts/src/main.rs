//! `srv-sql-ts <postgres|mysql> <port> <database url> <schema>`: tower-sessions 0.14 with
//! tower-sessions-sqlx-store 0.15, the newest pairing (the store does not support core 0.15),
//! with the store's default pool (sqlx's, 10 connections) like our providers' default.
//!
//! The store's table is `ts_sessions` in `schema`, created by the store's own `migrate()`. On
//! MySQL a schema is a database, so the harness passes the bench database's name there.

use anyhow::{Result, bail};
use bench_common::{arg, port_arg, runtime, serve};
use tower_sessions::SessionManagerLayer;
use tower_sessions_sqlx_store::sqlx::{MySqlPool, PgPool};
use tower_sessions_sqlx_store::{MySqlStore, PostgresStore};

const TABLE: &str = "ts_sessions";

fn main() -> Result<()> {
    let db = arg(1, "database (postgres|mysql)")?;
    let port = port_arg(2, "port")?;
    let url = arg(3, "database url")?;
    let schema = arg(4, "schema")?;
    runtime()?.block_on(async move {
        let routes = bench_common::ts_routes!();
        let router = match db.as_str() {
            "postgres" => {
                let store = PostgresStore::new(PgPool::connect(&url).await?)
                    .with_schema_name(&schema)
                    .and_then(|s| s.with_table_name(TABLE))
                    .map_err(anyhow::Error::msg)?;
                store.migrate().await?;
                routes.layer(SessionManagerLayer::new(store).with_secure(false))
            }
            "mysql" => {
                let store = MySqlStore::new(MySqlPool::connect(&url).await?)
                    .with_schema_name(&schema)
                    .and_then(|s| s.with_table_name(TABLE))
                    .map_err(anyhow::Error::msg)?;
                store.migrate().await?;
                routes.layer(SessionManagerLayer::new(store).with_secure(false))
            }
            other => bail!("unknown database {other:?} (postgres or mysql)"),
        };
        serve(router, port).await
    })
}
