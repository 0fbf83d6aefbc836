//! `srv-redis-ours <port> <provider config | none | floor> [enc | redis url]`: ours + the
//! redis provider, with encryption at rest when `enc` follows; `none` serves the same routes
//! without a session layer (the axum baseline of the Redis section, built with the same
//! dependency features as the contenders); `floor <redis url>` serves `/read` as one bare
//! `GET` ([`bench_common::redis_floor`]).

use anyhow::Result;
use bench_common::{
    arg, bare_router, ours_options, ours_router, port_arg, redis_floor, redis_floor_router,
    runtime, serve,
};
use session_core::{EncryptionKeys, Manager, Options, Registry};
use session_redis::RedisProvider;

fn main() -> Result<()> {
    let port = port_arg(1, "port")?;
    let config = arg(2, "provider config")?;
    runtime()?.block_on(async move {
        if config == "none" {
            return serve(bare_router(), port).await;
        }
        if config == "floor" {
            let connection = redis_floor::open(&arg(3, "redis url")?).await?;
            return serve(redis_floor_router(connection), port).await;
        }
        let registry = Registry::new().with(RedisProvider)?;
        let encryption_keys = match std::env::args().nth(3).as_deref() {
            Some("enc") => EncryptionKeys::new([(1, [0x42; 32])])?,
            None => EncryptionKeys::default(),
            Some(other) => anyhow::bail!("unknown mode {other:?} (expected enc)"),
        };
        let options = Options {
            encryption_keys,
            ..ours_options("redis", &config)
        };
        let manager = Manager::new(options, &registry).await?;
        serve(ours_router(manager), port).await
    })
}
