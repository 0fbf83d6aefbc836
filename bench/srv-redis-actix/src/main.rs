//! `srv-redis-actix <port> <redis url>`: actix-web with actix-session 0.11's RedisSessionStore,
//! one worker (one core), default session settings except a non-`Secure` cookie.

use actix_session::storage::RedisSessionStore;
use actix_session::{Session, SessionMiddleware};
use actix_web::cookie::Key;
use actix_web::{App, HttpServer, web};
use anyhow::Result;
use bench_common::{arg, next_value, port_arg};

async fn untouched() -> &'static str {
    "ok"
}

async fn read(session: Session) -> String {
    session
        .get::<u64>("n")
        .ok()
        .flatten()
        .unwrap_or(0)
        .to_string()
}

async fn write(session: Session) -> &'static str {
    match session.insert("n", next_value()) {
        Ok(()) => "ok",
        Err(_) => "error",
    }
}

#[actix_web::main]
async fn main() -> Result<()> {
    let port = port_arg(1, "port")?;
    let url = arg(2, "redis url")?;
    let store = RedisSessionStore::new(url).await?;
    let key = Key::from(&[7u8; 64]);
    eprintln!("listening on 127.0.0.1:{port}");
    HttpServer::new(move || {
        App::new()
            .wrap(
                SessionMiddleware::builder(store.clone(), key.clone())
                    .cookie_secure(false)
                    .build(),
            )
            .route("/untouched", web::get().to(untouched))
            .route("/read", web::get().to(read))
            .route("/write", web::get().to(write))
    })
    .workers(1)
    .bind(("127.0.0.1", port))?
    .run()
    .await?;
    Ok(())
}
