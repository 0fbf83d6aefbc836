//! The demo app served over real TCP, shared by this crate's test binaries (the scenario
//! suite, the metrics scrape).

#[allow(dead_code)]
#[path = "../../examples/demo/routes.rs"]
mod routes;

use session_core::Manager;

/// Serves the demo app on an ephemeral port; returns its base URL.
pub async fn serve(manager: Manager) -> String {
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
