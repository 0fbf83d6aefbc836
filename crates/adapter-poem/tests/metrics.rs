//! `GET /metrics` of the demo app after a scripted flow (`http_scenarios::metrics`). A test
//! binary of its own: the recorder it installs is global to the process.

#[allow(dead_code)]
#[path = "../examples/demo/routes.rs"]
mod routes;

use session_core::Manager;

/// Serves the demo app on an ephemeral port; returns its base URL.
async fn serve(manager: Manager) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral port");
    let addr = listener.local_addr().expect("local address");
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).expect("acceptor");
    tokio::spawn(async move {
        poem::Server::new_with_acceptor(acceptor)
            .run(routes::app(manager))
            .await
            .expect("demo server");
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_after_a_scripted_flow() {
    http_scenarios::metrics::after_a_scripted_flow(serve).await;
}
