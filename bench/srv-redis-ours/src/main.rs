//! `srv-redis-ours <port> <provider config | none>`: ours + the redis provider; `none` serves
//! the same routes without a session layer (the axum baseline of the Redis section, built
//! with the same dependency features as the contenders).

use anyhow::Result;
use bench_common::{arg, bare_router, ours_options, ours_router, port_arg, runtime, serve};
use session_core::{Manager, Registry};
use session_redis::RedisProvider;

fn main() -> Result<()> {
    let port = port_arg(1, "port")?;
    let config = arg(2, "provider config")?;
    runtime()?.block_on(async move {
        if config == "none" {
            return serve(bare_router(), port).await;
        }
        let registry = Registry::new().with(RedisProvider)?;
        let manager = Manager::new(ours_options("redis", &config), &registry).await?;
        serve(ours_router(manager), port).await
    })
}
