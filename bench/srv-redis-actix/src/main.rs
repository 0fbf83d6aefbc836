//! `srv-redis-actix <mode> <port> <redis url | provider config>`: actix-web, one worker (one
//! core), with
//!
//! - `actix-session`: actix-session 0.11's `RedisSessionStore`, default settings except a
//!   non-`Secure` cookie (argument: a redis URL);
//! - `ours`: this workspace's actix adapter + redis provider (argument: the provider config);
//! - `none`: no session middleware, the framework's own ceiling.

use actix_web::cookie::Key;
use actix_web::{App, HttpServer, web};
use anyhow::{Result, bail};
use bench_common::{arg, next_value, ours_options, port_arg};
use session_core::{Manager, Registry};
use session_redis::RedisProvider;

async fn untouched() -> &'static str {
    "ok"
}

mod anchor {
    use actix_session::Session;

    pub async fn read(session: Session) -> String {
        session
            .get::<u64>("n")
            .ok()
            .flatten()
            .unwrap_or(0)
            .to_string()
    }

    pub async fn write(session: Session) -> &'static str {
        match session.insert("n", bench_common::next_value()) {
            Ok(()) => "ok",
            Err(_) => "error",
        }
    }
}

async fn ours_read(session: adapter_actix::Session) -> Result<String, adapter_actix::SessionError> {
    Ok(session.get::<u64>("n").await?.unwrap_or(0).to_string())
}

async fn ours_write(
    session: adapter_actix::Session,
) -> Result<&'static str, adapter_actix::SessionError> {
    session.set("n", &next_value()).await?;
    Ok("ok")
}

#[actix_web::main]
async fn main() -> Result<()> {
    let mode = arg(1, "mode (actix-session|ours|none)")?;
    let port = port_arg(2, "port")?;
    let target = arg(3, "redis url or provider config")?;
    let server = match mode.as_str() {
        "actix-session" => {
            let store = actix_session::storage::RedisSessionStore::new(target).await?;
            let key = Key::from(&[7u8; 64]);
            HttpServer::new(move || {
                App::new()
                    .wrap(
                        actix_session::SessionMiddleware::builder(store.clone(), key.clone())
                            .cookie_secure(false)
                            .build(),
                    )
                    .route("/untouched", web::get().to(untouched))
                    .route("/read", web::get().to(anchor::read))
                    .route("/write", web::get().to(anchor::write))
            })
            .workers(1)
            .bind(("127.0.0.1", port))?
            .run()
        }
        "ours" => {
            let registry = Registry::new().with(RedisProvider)?;
            let manager = Manager::new(ours_options("redis", &target), &registry).await?;
            HttpServer::new(move || {
                App::new()
                    .wrap(adapter_actix::SessionMiddleware::new(manager.clone()))
                    .route("/untouched", web::get().to(untouched))
                    .route("/read", web::get().to(ours_read))
                    .route("/write", web::get().to(ours_write))
            })
            .workers(1)
            .bind(("127.0.0.1", port))?
            .run()
        }
        "none" => HttpServer::new(|| {
            App::new()
                .route("/untouched", web::get().to(untouched))
                .route("/read", web::get().to(|| async { "0" }))
                .route("/write", web::get().to(untouched))
        })
        .workers(1)
        .bind(("127.0.0.1", port))?
        .run(),
        other => bail!("unknown mode {other:?}"),
    };
    eprintln!("listening on 127.0.0.1:{port}");
    server.await?;
    Ok(())
}
