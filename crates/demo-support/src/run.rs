//! A demo's life around its framework's server: settings, manager, GC, listener, exit code,
//! and a log line for every way the process can end.

use std::future::Future;
use std::io::Write as _;
use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::Once;

use anyhow::Context as _;
use session_core::Manager;
use tracing_subscriber::EnvFilter;

use crate::{Settings, USAGE, registry, settings};

/// Runs a demo: logs to stdout (`RUST_LOG`, default `info`), reads the [`settings`], installs
/// the Prometheus recorder, opens the manager on the provider they name, binds the listener,
/// starts GC, and hands the manager and the listener to `serve`, which runs the framework's
/// server until shutdown. GC is stopped once `serve` returns.
///
/// The listener is a non-blocking `std` listener, ready for `tokio::net::TcpListener::from_std`
/// or actix-web's `HttpServer::listen`. Any failure, in start-up or from `serve`, is logged
/// and printed to stderr as one `demo: ...` line with its causes (a configuration mistake
/// deserves its message, not a backtrace) and gives [`ExitCode::FAILURE`]. See [`run_with`]
/// for what else is logged.
pub async fn run<F, Fut>(serve: F) -> ExitCode
where
    F: FnOnce(Manager, TcpListener) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    init_logging();
    match settings() {
        Ok(Some(settings)) => run_with(settings, serve).await,
        Ok(None) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Err(e) => failed(&e),
    }
}

/// [`run`] with settings already made (by [`settings_from`](crate::settings_from), for
/// instance), for a process whose arguments are not the demo's.
///
/// Nothing ends the process without a log line saying why: a panic on any thread (a spawned
/// task's included, which the runtime would otherwise swallow) is logged with its thread and
/// location before the default hook prints it to stderr; the signal that stopped the server
/// is named; SIGHUP (the terminal or the parent went away), which would otherwise kill the
/// process silently, is logged and ends the server; and the exit itself is logged, with the
/// error when there is one.
pub async fn run_with<F, Fut>(settings: Settings, serve: F) -> ExitCode
where
    F: FnOnce(Manager, TcpListener) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    init_logging();
    match start_and_serve(settings, serve).await {
        Ok(()) => {
            tracing::info!("session demo stopped");
            ExitCode::SUCCESS
        }
        Err(e) => failed(&e),
    }
}

/// Logs the failure that ends the process, and prints it to stderr too, so it reaches
/// whoever reads only one of the two streams.
fn failed(e: &anyhow::Error) -> ExitCode {
    tracing::error!(error = format!("{e:#}"), "session demo exiting on an error");
    let _ = writeln!(std::io::stderr(), "demo: {e:#}");
    ExitCode::FAILURE
}

/// Installs the stdout subscriber and the panic hook, once per process.
fn init_logging() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
        // A subscriber installed earlier (by a test harness) is kept.
        let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current();
            let payload = info
                .payload()
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(a non-text payload)");
            let location = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_default();
            tracing::error!(
                thread = thread.name().unwrap_or("unnamed"),
                location,
                "panic: {payload}"
            );
            default_hook(info);
        }));
    });
}

async fn start_and_serve<F, Fut>(settings: Settings, serve: F) -> anyhow::Result<()>
where
    F: FnOnce(Manager, TcpListener) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let provider = settings.options.provider.clone();
    // Before the manager: it registers its series with the recorder installed then.
    let metrics = crate::install_prometheus()?;
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
    // actix-web handles SIGINT, SIGTERM and SIGQUIT itself, and the other demos take
    // `shutdown_signal`; a hangup is caught here for all three.
    let served = tokio::select! {
        served = serve(manager, listener) => served,
        () = signal(Signal::Hangup) => Ok(()),
        () = crate::metrics::upkeep(metrics) => Ok(()),
    };
    gc.stop().await;
    served
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM, for servers that take a graceful-shutdown future
/// (axum, poem), so GC is stopped cleanly either way; logs which one arrived. actix-web
/// listens for both by itself.
pub async fn shutdown_signal() {
    tokio::select! {
        () = signal(Signal::Interrupt) => {}
        () = signal(Signal::Terminate) => {}
    }
}

/// The signals a demo reacts to.
#[derive(Debug, Clone, Copy)]
enum Signal {
    Interrupt,
    Terminate,
    Hangup,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
            Signal::Hangup => "SIGHUP",
        }
    }
}

/// Resolves when `which` arrives, after logging it. If the handler cannot be installed, that
/// is logged and the future never resolves: a demo that cannot listen for a signal keeps
/// serving instead of taking the failure for a request to stop.
async fn signal(which: Signal) {
    match wait_for(which).await {
        Ok(()) => tracing::info!(signal = which.name(), "signal received; shutting down"),
        Err(e) => {
            tracing::warn!(signal = which.name(), error = %e, "cannot listen for the signal");
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(unix)]
async fn wait_for(which: Signal) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let kind = match which {
        Signal::Interrupt => SignalKind::interrupt(),
        Signal::Terminate => SignalKind::terminate(),
        Signal::Hangup => SignalKind::hangup(),
    };
    signal(kind)?.recv().await;
    Ok(())
}

#[cfg(not(unix))]
async fn wait_for(which: Signal) -> std::io::Result<()> {
    match which {
        Signal::Interrupt => tokio::signal::ctrl_c().await,
        Signal::Terminate | Signal::Hangup => std::future::pending().await,
    }
}
