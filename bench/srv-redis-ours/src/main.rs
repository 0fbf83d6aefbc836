//! `srv-redis-ours <port> <provider config>`: ours + the redis provider (config: addr=127.0.0.1:PORT).

use anyhow::Result;
use bench_common::{arg, ours_options, ours_router, port_arg, runtime, serve};
use session_core::{Manager, Registry};
use session_redis::RedisProvider;

fn main() -> Result<()> {
    let port = port_arg(1, "port")?;
    let config = arg(2, "provider config")?;
    runtime()?.block_on(async move {
        let registry = Registry::new().with(RedisProvider)?;
        let manager = Manager::new(ours_options("redis", &config), &registry).await?;
        serve(ours_router(manager), port).await
    })
}
