//! The demo app over real TCP: flash flow, cookie attributes, login, and a provider outage.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[allow(dead_code)]
#[path = "../examples/demo/routes.rs"]
mod routes;

use std::sync::Arc;

use common::{Http, Reply, signup_page};
use http::StatusCode;
use poem::Server;
use poem::listener::TcpAcceptor;
use session_core::conformance::Instrumented;
use session_core::{Manager, Options, SystemClock};
use session_memory::MemoryStore;

/// Serves the demo over `manager` on a free port, on the test's multi-threaded runtime.
async fn serve(manager: Manager) -> Http {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    let addr = listener.local_addr().expect("local address");
    let acceptor = TcpAcceptor::from_tokio(listener).expect("acceptor");
    tokio::spawn(Server::new_with_acceptor(acceptor).run(routes::app(manager)));
    Http::new(format!("http://{addr}"))
}

async fn instrumented_app() -> (Http, Arc<Instrumented>) {
    let store = Arc::new(Instrumented::new(Arc::new(MemoryStore::default())));
    let manager = Manager::with_store(Options::default(), store.clone(), Arc::new(SystemClock))
        .expect("valid options");
    (serve(manager).await, store)
}

fn assert_cookie_attributes(reply: &Reply) {
    let attributes = reply.cookie_attributes();
    for expected in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(
            attributes.iter().any(|a| a == expected),
            "missing {expected} in {:?}",
            reply.session_set_cookie()
        );
    }
    assert!(
        !attributes.iter().any(|a| a.starts_with("Domain")),
        "no Domain by default: {attributes:?}"
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flash_messages_are_shown_once_then_gone() {
    let (http, _) = instrumented_app().await;

    // First /signup: nothing was queued before; four messages are queued now.
    let reply = http.get("/signup", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body.trim_end(), signup_page("", "", "", ""));
    assert!(
        reply
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/html"))
    );
    let cookie = reply
        .session_cookie()
        .expect("queued flashes create the session");
    assert_cookie_attributes(&reply);

    let reply = http.get("/flash", Some(&cookie)).await;
    assert_eq!(
        reply.body.trim_end(),
        signup_page("yes!!!", "opps...", "aha?!", "Just be careful.")
    );
    // Consuming the last data empties the session: its cookie is removed.
    assert!(
        reply
            .session_set_cookie()
            .is_some_and(|c| c.contains("Max-Age=0"))
    );

    let reply = http.get("/flash", Some(&cookie)).await;
    assert_eq!(reply.body.trim_end(), signup_page("", "", "", ""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_twice_shows_the_messages_queued_by_the_first() {
    let (http, _) = instrumented_app().await;
    let cookie = http.get("/signup", None).await.session_cookie().unwrap();
    let reply = http.get("/signup", Some(&cookie)).await;
    assert_eq!(
        reply.body.trim_end(),
        signup_page("yes!!!", "opps...", "aha?!", "Just be careful.")
    );
    // ...and queued them again for the next page.
    let reply = http.get("/flash", Some(&cookie)).await;
    assert!(reply.body.contains("<h2>yes!!!</h2>"));
    let reply = http.get("/flash", Some(&cookie)).await;
    assert_eq!(reply.body.trim_end(), signup_page("", "", "", ""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flash_text_is_html_escaped() {
    let (http, _) = instrumented_app().await;
    let reply = http
        .post_form(
            "/flash",
            None,
            "level=error&text=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let cookie = reply.session_cookie().expect("a queued message");
    let reply = http.get("/flash", Some(&cookie)).await;
    assert!(!reply.body.contains("<script>"), "{}", reply.body);
    assert!(
        reply
            .body
            .contains("<h2>&lt;script&gt;alert(1)&lt;&#x2f;script&gt;</h2>"),
        "{}",
        reply.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_now_is_rendered_by_the_same_request_and_not_stored() {
    let (http, store) = instrumented_app().await;
    let writes = store.writes();
    let reply = http
        .post_form("/flash", None, "level=info&text=right+now&now=true")
        .await;
    assert_eq!(reply.body.trim_end(), signup_page("", "", "right now", ""));
    assert_eq!(reply.session_set_cookie(), None);
    assert_eq!(store.writes(), writes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_attributes_and_removal() {
    let (http, _) = instrumented_app().await;
    let reply = http.put("/session/a", None, "1").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_cookie_attributes(&reply);
    assert!(
        !reply
            .cookie_attributes()
            .iter()
            .any(|a| a.starts_with("Max-Age") || a.starts_with("Expires")),
        "a browser-session cookie"
    );
    assert_eq!(reply.header("vary"), Some("Cookie"));
    let cookie = reply.session_cookie().unwrap();

    // Reads and unchanged writes send no cookie.
    let reply = http.get("/session/a", Some(&cookie)).await;
    assert_eq!(reply.body, "1");
    assert_eq!(reply.session_set_cookie(), None);

    // Deleting the last key removes the session and its cookie, with the same attributes.
    let reply = http.delete("/session/a", Some(&cookie)).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_cookie_attributes(&reply);
    assert!(reply.cookie_attributes().iter().any(|a| a == "Max-Age=0"));
    assert_eq!(reply.session_cookie().as_deref(), Some("MacaronSession="));
    assert_eq!(
        http.get("/session/a", Some(&cookie)).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_regenerates_and_the_old_cookie_is_dead() {
    let (http, _) = instrumented_app().await;
    let before = http
        .put("/session/cart", None, "3 apples")
        .await
        .session_cookie()
        .unwrap();
    let reply = http.post_form("/login", Some(&before), "user=alice").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_cookie_attributes(&reply);
    let after = reply.session_cookie().unwrap();
    assert_ne!(after, before);

    assert_eq!(http.get("/whoami", Some(&after)).await.body, "alice");
    assert_eq!(
        http.get("/session/cart", Some(&after)).await.body,
        "3 apples"
    );
    assert_eq!(
        http.get("/whoami", Some(&before)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        http.get("/session/cart", Some(&before)).await.status,
        StatusCode::NOT_FOUND
    );

    let reply = http
        .send(http::Method::POST, "/logout", Some(&after), None)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert!(reply.cookie_attributes().iter().any(|a| a == "Max-Age=0"));
    assert_eq!(
        http.get("/whoami", Some(&after)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_failure_is_503_without_set_cookie() {
    let (http, store) = instrumented_app().await;
    let cookie = http
        .put("/session/keep", None, "safe")
        .await
        .session_cookie()
        .unwrap();
    let flash_cookie = http.get("/signup", Some(&cookie)).await.session_cookie();
    assert_eq!(flash_cookie, None, "same session, no new cookie");

    store.set_down(true);
    for reply in [
        http.get("/session/keep", Some(&cookie)).await,
        http.put("/session/new", None, "x").await,
        http.put("/session/keep", Some(&cookie), "lost").await,
        http.get("/", Some(&cookie)).await,
        http.get("/flash", Some(&cookie)).await,
        http.get("/signup", None).await,
        http.post_form("/login", Some(&cookie), "user=eve").await,
        http.send(http::Method::POST, "/logout", Some(&cookie), None)
            .await,
    ] {
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{reply:?}");
        assert!(reply.set_cookies().is_empty(), "{reply:?}");
    }
    store.set_down(false);

    // The data and the queued flashes survived.
    assert_eq!(http.get("/session/keep", Some(&cookie)).await.body, "safe");
    let reply = http.get("/flash", Some(&cookie)).await;
    assert!(reply.body.contains("<h2>yes!!!</h2>"), "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_and_logout_everywhere() {
    let (http, _) = instrumented_app().await;
    let first = http
        .post_form("/login", None, "user=erin")
        .await
        .session_cookie()
        .unwrap();
    let second = http
        .post_form("/login", None, "user=erin")
        .await
        .session_cookie()
        .unwrap();
    let stats: serde_json::Value =
        serde_json::from_str(&http.get("/stats", None).await.body).unwrap();
    assert_eq!(stats["count"], 2);

    let reply = http
        .send(http::Method::POST, "/logout-everywhere", Some(&first), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(json["destroyed"], 1);
    assert_eq!(http.get("/whoami", Some(&first)).await.body, "erin");
    assert_eq!(
        http.get("/whoami", Some(&second)).await.status,
        StatusCode::UNAUTHORIZED
    );
}
