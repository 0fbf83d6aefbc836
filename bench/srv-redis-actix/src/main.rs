//! `srv-redis-actix <mode> <port> <redis url | provider config>`: actix-web, one worker (one
//! core), with
//!
//! - `actix-session`: actix-session 0.11's `RedisSessionStore`, default settings except a
//!   non-`Secure` cookie (argument: a redis URL);
//! - `ours`: this workspace's actix adapter + redis provider (argument: the provider config);
//! - `none`: no session middleware, the framework's own ceiling;
//! - `floor`: no session middleware, `/read` is one bare `GET` through the `redis` crate
//!   ([`bench_common::redis_floor`]; argument: a redis URL), opened on the worker too.
//!
//! Both session stores are opened on the worker that serves the requests (see [`OnWorker`]),
//! the setup we recommend: opened on actix's main runtime instead, the Redis connection's
//! driver task runs on the main thread, so every request also costs CPU time there.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::Key;
use actix_web::dev::{ServiceRequest, Transform};
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

async fn floor_read(
    request: actix_web::HttpRequest,
    connection: web::Data<redis::aio::ConnectionManager>,
) -> String {
    use bench_common::redis_floor;
    let cookie = request.headers().get("cookie").map(|v| v.as_bytes());
    redis_floor::read(&connection, redis_floor::cookie_id(cookie)).await
}

/// A session middleware built by the worker that runs it.
///
/// actix-web calls `new_transform` on each worker's own runtime while the worker starts, so
/// the store `build` opens there, and the tasks that drive its connections run on the thread
/// that serves the requests. A store that cannot be opened stops the worker, and with it the
/// server (`HttpServer::run` fails).
struct OnWorker<F>(F);

impl<S, F, Fut, M> Transform<S, ServiceRequest> for OnWorker<F>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<M>> + 'static,
    M: Transform<S, ServiceRequest, InitError = ()> + 'static,
    S: 'static,
{
    type Response = M::Response;
    type Error = M::Error;
    type Transform = M::Transform;
    type InitError = ();
    type Future = Pin<Box<dyn Future<Output = Result<M::Transform, ()>>>>;

    fn new_transform(&self, service: S) -> Self::Future {
        let build = (self.0)();
        Box::pin(async move {
            let middleware = build
                .await
                .map_err(|e| eprintln!("cannot open the session store: {e:#}"))?;
            middleware.new_transform(service).await
        })
    }
}

/// actix-session's middleware over a `RedisSessionStore` connected to `url`.
async fn anchor_middleware(
    url: String,
) -> Result<actix_session::SessionMiddleware<actix_session::storage::RedisSessionStore>> {
    let store = actix_session::storage::RedisSessionStore::new(url).await?;
    Ok(
        actix_session::SessionMiddleware::builder(store, Key::from(&[7u8; 64]))
            .cookie_secure(false)
            .build(),
    )
}

/// Our middleware over the redis provider configured by `config`.
async fn ours_middleware(config: String) -> Result<adapter_actix::SessionMiddleware> {
    let registry = Registry::new().with(RedisProvider)?;
    let manager = Manager::new(ours_options("redis", &config), &registry).await?;
    Ok(adapter_actix::SessionMiddleware::new(manager))
}

#[actix_web::main]
async fn main() -> Result<()> {
    let mode = arg(1, "mode (actix-session|ours|none|floor)")?;
    let port = port_arg(2, "port")?;
    let target = arg(3, "redis url or provider config")?;
    let server = match mode.as_str() {
        "actix-session" => HttpServer::new(move || {
            let url = target.clone();
            App::new()
                .wrap(OnWorker(move || anchor_middleware(url.clone())))
                .route("/untouched", web::get().to(untouched))
                .route("/read", web::get().to(anchor::read))
                .route("/write", web::get().to(anchor::write))
        })
        .workers(1)
        .bind(("127.0.0.1", port))?
        .run(),
        "ours" => HttpServer::new(move || {
            let config = target.clone();
            App::new()
                .wrap(OnWorker(move || ours_middleware(config.clone())))
                .route("/untouched", web::get().to(untouched))
                .route("/read", web::get().to(ours_read))
                .route("/write", web::get().to(ours_write))
        })
        .workers(1)
        .bind(("127.0.0.1", port))?
        .run(),
        "floor" => HttpServer::new(move || {
            let url = target.clone();
            App::new()
                .data_factory(move || {
                    let url = url.clone();
                    async move { bench_common::redis_floor::open(&url).await }
                })
                .route("/untouched", web::get().to(untouched))
                .route("/read", web::get().to(floor_read))
                .route("/write", web::get().to(untouched))
        })
        .workers(1)
        .bind(("127.0.0.1", port))?
        .run(),
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
