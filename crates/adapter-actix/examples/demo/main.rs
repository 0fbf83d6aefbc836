//! The actix-web demo app: the HTTP contract shared by every adapter's demo (see the
//! `http-scenarios` crate) plus Macaron's flash example (`GET /signup`, `GET /flash`).
//!
//! ```text
//! cargo run -p adapter-actix --example demo                      # memory provider
//! cargo run -p adapter-actix --example demo -- --config app.ini  # [session] section
//! SESSION_PROVIDER=file SESSION_PROVIDER_CONFIG=/tmp/sessions SESSION_SECURE=false \
//!     cargo run -p adapter-actix --example demo
//! ```
//!
//! The environment overrides the config file. The app listens on `SESSION_DEMO_ADDR`
//! (default `127.0.0.1:8080`).

mod routes;

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use session_core::{Manager, Options, Registry};
use session_file::FileProvider;
use session_memory::MemoryProvider;
use tracing_subscriber::EnvFilter;

const USAGE: &str = "usage: demo [--config FILE]\n\
    environment: SESSION_PROVIDER, SESSION_PROVIDER_CONFIG, SESSION_SECURE, SESSION_DEMO_ADDR";

/// Every provider available in this workspace's demo (the other providers are added here as
/// their crates land).
fn registry() -> session_core::Result<Registry> {
    Registry::new().with(MemoryProvider)?.with(FileProvider)
}

/// Options from `--config FILE` (or the defaults), then the `SESSION_*` environment.
fn options() -> anyhow::Result<Options> {
    let mut args = std::env::args().skip(1);
    let mut options = Options::default();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" => {
                let path = args.next().context("--config needs a file name")?;
                options = Options::from_file(&path)
                    .with_context(|| format!("reading session options from {path}"))?;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unexpected argument {other:?}\n{USAGE}"),
        }
    }
    for (var, key) in [
        ("SESSION_PROVIDER", "PROVIDER"),
        ("SESSION_PROVIDER_CONFIG", "PROVIDER_CONFIG"),
        ("SESSION_SECURE", "SECURE"),
    ] {
        if let Ok(value) = std::env::var(var) {
            options
                .set(key, &value)
                .with_context(|| format!("applying {var}"))?;
        }
    }
    options.validate()?;
    Ok(options)
}

#[actix_web::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match serve().await {
        Ok(()) => ExitCode::SUCCESS,
        // A configuration mistake deserves its message, not a backtrace.
        Err(e) => {
            eprintln!("demo: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> anyhow::Result<()> {
    let options = options()?;
    let addr = std::env::var("SESSION_DEMO_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let provider = options.provider.clone();
    let manager = Manager::new(options, &registry()?).await?;
    let gc = manager.start_gc();

    let listener = std::net::TcpListener::bind(&addr).with_context(|| format!("binding {addr}"))?;
    tracing::info!(addr = %listener.local_addr()?, provider, "session demo listening");
    // actix-server stops gracefully on Ctrl-C and SIGTERM by itself.
    routes::server(manager, listener)?.await?;
    gc.stop().await;
    Ok(())
}
