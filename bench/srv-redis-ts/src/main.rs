//! `srv-redis-ts <port> <redis url>`: tower-sessions 0.14 with tower-sessions-redis-store 0.16
//! (fred), the newest pairing that builds (the redis store does not support core 0.15 yet).

use anyhow::Result;
use bench_common::{arg, port_arg, runtime, serve};
use tower_sessions::SessionManagerLayer;
use tower_sessions_redis_store::RedisStore;
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};

fn main() -> Result<()> {
    let port = port_arg(1, "port")?;
    let url = arg(2, "redis url")?;
    runtime()?.block_on(async move {
        // One connection: fred pipelines on it, like our multiplexed connection.
        let pool = Pool::new(Config::from_url(&url)?, None, None, None, 1)?;
        let _connection = pool.connect();
        pool.wait_for_connect().await?;
        let layer = SessionManagerLayer::new(RedisStore::new(pool)).with_secure(false);
        serve(bench_common::ts_routes!().layer(layer), port).await
    })
}
