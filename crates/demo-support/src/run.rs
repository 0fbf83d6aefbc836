//! A demo's life around its framework's server: settings, manager, GC, listener, exit code.

use std::future::Future;
use std::net::TcpListener;
use std::process::ExitCode;

use anyhow::Context as _;
use session_core::Manager;
use tracing_subscriber::EnvFilter;

use crate::{USAGE, registry, settings};

/// Runs a demo: logs to stdout (`RUST_LOG`, default `info`), reads the [`settings`], opens the
/// manager on the provider they name, binds the listener, starts GC, and hands the manager and
/// the listener to `serve`, which runs the framework's server until shutdown. GC is stopped
/// once `serve` returns.
///
/// The listener is a non-blocking `std` listener, ready for `tokio::net::TcpListener::from_std`
/// or actix-web's `HttpServer::listen`. Any failure, in start-up or from `serve`, is printed as
/// one `demo: ...` line with its causes (a configuration mistake deserves its message, not a
/// backtrace) and gives [`ExitCode::FAILURE`].
pub async fn run<F, Fut>(serve: F) -> ExitCode
where
    F: FnOnce(Manager, TcpListener) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A subscriber installed earlier (by a test harness) is kept.
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
    match start_and_serve(serve).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn start_and_serve<F, Fut>(serve: F) -> anyhow::Result<()>
where
    F: FnOnce(Manager, TcpListener) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let Some(settings) = settings()? else {
        println!("{USAGE}");
        return Ok(());
    };
    let provider = settings.options.provider.clone();
    let manager = Manager::new(settings.options, &registry()?)
        .await
        .with_context(|| format!("opening the {provider:?} session provider"))?;
    let addr = settings.addr;
    let listener = TcpListener::bind(&addr).with_context(|| format!("binding {addr}"))?;
    // tokio's and actix's listeners both expect a non-blocking socket.
    listener
        .set_nonblocking(true)
        .with_context(|| format!("setting up the listener on {addr}"))?;
    tracing::info!(addr = %listener.local_addr()?, provider, "session demo listening");
    let gc = manager.start_gc();
    let served = serve(manager, listener).await;
    gc.stop().await;
    served
}

/// Resolves on Ctrl-C or SIGTERM, for servers that take a graceful-shutdown future (axum,
/// poem), so GC is stopped cleanly either way. actix-web listens for both by itself.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}
