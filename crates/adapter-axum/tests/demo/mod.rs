//! The demo app served over real TCP, shared by this crate's test binaries (the scenario
//! suite, the metrics scrape, the Redis outage test).

#[allow(dead_code)]
#[path = "../../examples/demo/routes.rs"]
pub mod routes;

use session_core::Manager;

/// Serves the demo app on an ephemeral port; returns its base URL.
pub async fn serve(manager: Manager) -> String {
    serve_router(routes::app(manager)).await
}

/// Serves `app` on an ephemeral port; returns its base URL.
#[allow(dead_code)]
pub async fn serve_router(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral port");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        // With the peer address, as the demo's `main` serves it (device metadata).
        let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(listener, app).await.expect("demo server");
    });
    format!("http://{addr}")
}
