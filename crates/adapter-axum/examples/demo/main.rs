//! The axum demo app: Macaron's session example plus the HTTP contract shared by every
//! adapter's demo (see the `http-scenarios` crate).
//!
//! ```text
//! cargo run -p adapter-axum --example demo                      # memory provider
//! cargo run -p adapter-axum --example demo -- --config app.ini  # [session] section
//! SESSION_PROVIDER=file SESSION_PROVIDER_CONFIG=/tmp/sessions SESSION_SECURE=false \
//!     cargo run -p adapter-axum --example demo
//! ```
//!
//! The environment overrides the config file. The app listens on `SESSION_DEMO_ADDR`
//! (default `127.0.0.1:8080`). Settings, providers and start-up are `demo_support::run`'s.

mod routes;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    demo_support::run(|manager, listener| async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        // With the peer address, for device metadata (`DEVICE_METADATA`).
        let app =
            routes::app(manager).into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(listener, app)
            .with_graceful_shutdown(demo_support::shutdown_signal())
            .await?;
        Ok(())
    })
    .await
}
