//! The shared HTTP scenario suite against the demo app, served over real TCP, under each of
//! the set-ups of `http_scenarios::setups`.

#[allow(dead_code)]
#[path = "../examples/demo/routes.rs"]
mod routes;

use http_scenarios::setups;
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
async fn memory_provider_with_secure_cookies() {
    setups::memory_with_secure_cookies(serve).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_provider_with_signed_cookies_and_hashed_ids() {
    setups::signed_cookies_and_hashed_ids(serve).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_provider_with_cookie_name_path_and_domain() {
    setups::file_with_cookie_name_path_and_domain(serve).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn registry_built_manager_without_outage_switch() {
    setups::registry_built_without_outage_switch(serve).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_provider_with_id_rotation() {
    setups::memory_with_rotation(serve).await;
}
