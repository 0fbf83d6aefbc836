//! `srv-memory <none|floor|ours|ours-enc|ts> <port>`: the memory comparison's contenders
//! (`ours-enc` is `ours` with encryption at rest), and `floor`, the least any axum session
//! layer costs (see `bench_common::floor`).

use anyhow::{Result, bail};
use axum::Router;
use bench_common::{
    arg, bare_router, floor_router, ours_options, ours_router, port_arg, runtime, serve,
};
use session_core::{EncryptionKeys, Manager, Options, Registry};
use session_memory::MemoryProvider;
use tower_sessions::{MemoryStore, SessionManagerLayer};

fn main() -> Result<()> {
    let mode = arg(1, "mode (none|floor|ours|ours-enc|ts)")?;
    let port = port_arg(2, "port")?;
    runtime()?.block_on(async move {
        let router = match mode.as_str() {
            "none" => bare_router(),
            "floor" => floor_router(),
            "ours" | "ours-enc" => {
                let registry = Registry::new().with(MemoryProvider)?;
                let options = Options {
                    encryption_keys: if mode == "ours-enc" {
                        EncryptionKeys::new([(1, [0x42; 32])])?
                    } else {
                        EncryptionKeys::default()
                    },
                    ..ours_options("memory", "")
                };
                let manager = Manager::new(options, &registry).await?;
                ours_router(manager)
            }
            "ts" => ts_router(),
            other => bail!("unknown mode {other:?}"),
        };
        serve(router, port).await
    })
}

fn ts_router() -> Router {
    bench_common::ts_routes!()
        .layer(SessionManagerLayer::new(MemoryStore::default()).with_secure(false))
}
