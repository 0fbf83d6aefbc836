//! The demo app served over real TCP, shared by this crate's test binaries (the scenario
//! suite, the metrics scrape).

#[allow(dead_code)]
#[path = "../../examples/demo/routes.rs"]
mod routes;

use session_core::Manager;

/// Serves the demo app on an ephemeral port, on its own actix system thread; returns its
/// base URL.
pub async fn serve(manager: Manager) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    let addr = listener.local_addr().expect("local address");
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            routes::server(manager, listener)
                .expect("demo server starts")
                .await
                .expect("demo server")
        })
    });
    format!("http://{addr}")
}
