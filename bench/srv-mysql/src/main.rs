//! `srv-mysql <port> <provider config>`: ours + the mysql provider (config: the provider config).

use anyhow::Result;
use bench_common::{arg, ours_options, ours_router, port_arg, runtime, serve};
use session_core::{Manager, Registry};
use session_mysql::MySqlProvider;

fn main() -> Result<()> {
    let port = port_arg(1, "port")?;
    let config = arg(2, "provider config")?;
    runtime()?.block_on(async move {
        let registry = Registry::new().with(MySqlProvider)?;
        let manager = Manager::new(ours_options("mysql", &config), &registry).await?;
        serve(ours_router(manager), port).await
    })
}
