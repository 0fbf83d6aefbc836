//! The poem demo app: the HTTP contract shared by every adapter's demo (see the
//! `http-scenarios` crate) plus Macaron's flash example (`GET /signup`, `GET /flash`).
//!
//! ```text
//! cargo run -p adapter-poem --example demo                      # memory provider
//! cargo run -p adapter-poem --example demo -- --config app.ini  # [session] section
//! SESSION_PROVIDER=file SESSION_PROVIDER_CONFIG=/tmp/sessions SESSION_SECURE=false \
//!     cargo run -p adapter-poem --example demo
//! ```
//!
//! The environment overrides the config file. The app listens on `SESSION_DEMO_ADDR`
//! (default `127.0.0.1:8080`). Settings, providers and start-up are `demo_support::run`'s.

mod routes;

use std::process::ExitCode;

use poem::Server;
use poem::listener::TcpAcceptor;

#[tokio::main]
async fn main() -> ExitCode {
    demo_support::run(|manager, listener| async move {
        Server::new_with_acceptor(TcpAcceptor::from_std(listener)?)
            .run_with_graceful_shutdown(routes::app(manager), demo_support::shutdown_signal(), None)
            .await?;
        Ok(())
    })
    .await
}
