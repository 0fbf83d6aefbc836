//! `srv-redis-ts <port> <redis url>`: tower-sessions 0.14 with tower-sessions-redis-store 0.16
//! (fred), the newest pairing that builds (the redis store does not support core 0.15 yet).

use anyhow::Result;
use axum::Router;
use axum::routing::get;
use bench_common::{arg, next_value, port_arg, runtime, serve};
use tower_sessions::{Session, SessionManagerLayer};
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
        serve(router().layer(layer), port).await
    })
}

fn router() -> Router {
    async fn read(session: Session) -> String {
        session
            .get::<u64>("n")
            .await
            .ok()
            .flatten()
            .unwrap_or(0)
            .to_string()
    }
    async fn write(session: Session) -> &'static str {
        match session.insert("n", next_value()).await {
            Ok(()) => "ok",
            Err(_) => "error",
        }
    }
    Router::new()
        .route("/untouched", get(|| async { "ok" }))
        .route("/read", get(read))
        .route("/write", get(write))
}
