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
//! (default `127.0.0.1:8080`). Settings, providers and start-up are `demo_support::run`'s.

mod routes;

use std::process::ExitCode;

#[actix_web::main]
async fn main() -> ExitCode {
    demo_support::run(|manager, listener| async move {
        // actix-server stops gracefully on Ctrl-C and SIGTERM by itself.
        routes::server(manager, listener)?.await?;
        Ok(())
    })
    .await
}
