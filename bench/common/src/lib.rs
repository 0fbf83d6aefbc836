//! What every benchmark server shares, so the contenders differ only in their session layer.
//!
//! Each server answers three routes with the same bodies:
//!
//! - `/untouched`: the handler never looks at the session;
//! - `/read`: reads the integer under key `n`;
//! - `/write`: stores a fresh integer under key `n` (this route also creates the sessions
//!   the harness seeds before a run).
//!
//! Servers run one single-threaded tokio runtime (actix-web: one worker), so a figure is
//! the throughput of one core, which the harness pins with `taskset`.

pub mod floor;
pub mod redis_floor;

use std::sync::atomic::{AtomicU64, Ordering};

use adapter_axum::{Session, SessionError, SessionLayer};
use anyhow::{Context, Result};
use axum::Router;
use axum::handler::Handler;
use axum::routing::get;
use session_core::Manager;

/// The next value the write handler stores: unique per request, so every write changes data.
pub fn next_value() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The positional argument `index` (after the program name), or an error naming it.
pub fn arg(index: usize, name: &str) -> Result<String> {
    std::env::args()
        .nth(index)
        .with_context(|| format!("missing argument {index}: {name}"))
}

/// The positional argument `index` parsed as a port.
pub fn port_arg(index: usize, name: &str) -> Result<u16> {
    arg(index, name)?
        .parse()
        .with_context(|| format!("argument {name} is not a port"))
}

/// A single-threaded runtime: one core per server, the same for every contender.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Serves `router` on 127.0.0.1:`port` until the process is killed.
pub async fn serve(router: Router, port: u16) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    eprintln!("listening on 127.0.0.1:{port}");
    axum::serve(listener, router).await?;
    Ok(())
}

/// The three routes with the given `/read` and `/write` handlers; `/untouched` answers
/// without looking at any session.
pub fn routes<R, W, TR, TW>(read: R, write: W) -> Router
where
    R: Handler<TR, ()>,
    W: Handler<TW, ()>,
    TR: 'static,
    TW: 'static,
{
    Router::new()
        .route("/untouched", get(|| async { "ok" }))
        .route("/read", get(read))
        .route("/write", get(write))
}

/// The three routes over tower-sessions' `Session`, from whichever version the calling crate
/// depends on as `tower_sessions` (0.14 next to the Redis and SQL stores, 0.15 next to
/// `MemoryStore`): the two versions' `Session` types differ, their methods do not. The caller
/// adds its `SessionManagerLayer`.
#[macro_export]
macro_rules! ts_routes {
    () => {{
        async fn read(session: tower_sessions::Session) -> String {
            session
                .get::<u64>("n")
                .await
                .ok()
                .flatten()
                .unwrap_or(0)
                .to_string()
        }
        async fn write(session: tower_sessions::Session) -> &'static str {
            match session.insert("n", $crate::next_value()).await {
                Ok(()) => "ok",
                Err(_) => "error",
            }
        }
        $crate::routes(read, write)
    }};
}

/// The three routes with no session layer at all: the baseline.
pub fn bare_router() -> Router {
    routes(|| async { "0" }, || async { "ok" })
}

/// The no-layer routes under [`floor::FloorLayer`]: the least any axum session layer costs.
pub fn floor_router() -> Router {
    bare_router().layer(floor::FloorLayer)
}

/// The three routes with [`redis_floor::read`] as `/read` over `connection`: no session
/// layer, one `GET` per read.
pub fn redis_floor_router(connection: redis::aio::ConnectionManager) -> Router {
    let read = move |headers: axum::http::HeaderMap| async move {
        let cookie = headers
            .get(axum::http::header::COOKIE)
            .map(|v| v.as_bytes());
        redis_floor::read(&connection, redis_floor::cookie_id(cookie)).await
    };
    routes(read, || async { "ok" })
}

/// The three routes on this workspace's axum adapter over `manager`.
pub fn ours_router(manager: Manager) -> Router {
    async fn read(session: Session) -> Result<String, SessionError> {
        Ok(session.get::<u64>("n").await?.unwrap_or(0).to_string())
    }
    async fn write(session: Session) -> Result<&'static str, SessionError> {
        session.set("n", &next_value()).await?;
        Ok("ok")
    }
    routes(read, write).layer(SessionLayer::new(manager))
}

/// Options for our servers: defaults, except the cookie is not `Secure` (plain-HTTP loopback;
/// the flag changes no server work).
pub fn ours_options(provider: &str, config: &str) -> session_core::Options {
    session_core::Options {
        provider: provider.into(),
        provider_config: config.into(),
        secure: false,
        ..session_core::Options::default()
    }
}
