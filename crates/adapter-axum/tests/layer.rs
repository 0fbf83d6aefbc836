//! The layer's own behaviour, request by request: headers it adds, the error hook, the
//! `SessionError` wrapper and the missing-layer rejection.

use adapter_axum::{Session, SessionError, SessionLayer};
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::header::{CACHE_CONTROL, COOKIE, SET_COOKIE, VARY};
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http_scenarios::setups::instrumented_memory;
use session_core::{Error, Options};
use tower::ServiceExt as _;

async fn set(session: Session) -> Result<&'static str, SessionError> {
    session.set("k", "v").await?;
    Ok("stored")
}

async fn read(session: Session) -> Result<String, SessionError> {
    Ok(session.get::<String>("k").await?.unwrap_or_default())
}

/// Reads a number where a string is stored: a decode error, not a backend one.
async fn wrong_type(session: Session) -> Result<String, SessionError> {
    session.set("k", &7u32).await?;
    Ok(session.get::<String>("k").await?.unwrap_or_default())
}

/// Swallows the session error and answers 200 anyway.
async fn swallow(session: Session) -> &'static str {
    let _ = session.get::<String>("k").await;
    "all fine"
}

fn app(layer: SessionLayer) -> Router {
    Router::new()
        .route("/set", get(set))
        .route("/read", get(read))
        .route("/wrong-type", get(wrong_type))
        .route("/swallow", get(swallow))
        .route(
            "/cached",
            get(|session: Session| async move {
                session.set("k", "v").await.map_err(SessionError)?;
                Ok::<_, SessionError>(
                    (
                        [(CACHE_CONTROL, "public, max-age=3600"), (VARY, "Accept")],
                        "x",
                    )
                        .into_response(),
                )
            }),
        )
        .layer(layer)
}

async fn call(app: &Router, path: &str, cookie: Option<&str>) -> Response {
    let mut request = Request::get(path);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    app.clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("infallible")
}

async fn body(response: Response) -> String {
    let bytes = to_bytes(response.into_body(), 1 << 20).await.expect("body");
    String::from_utf8_lossy(&bytes).into_owned()
}

fn session_cookie(response: &Response) -> String {
    let line = response
        .headers()
        .get(SET_COOKIE)
        .expect("a Set-Cookie")
        .to_str()
        .expect("text");
    line.split(';').next().expect("name=value").to_owned()
}

#[tokio::test]
async fn setting_the_cookie_forbids_caching_and_varies_on_cookie() {
    let (manager, _) = instrumented_memory(Options::default());
    let app = app(SessionLayer::new(manager));
    let response = call(&app, "/cached", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert!(headers.get(SET_COOKIE).is_some());
    assert_eq!(headers.get_all(CACHE_CONTROL).iter().count(), 1);
    assert_eq!(headers[CACHE_CONTROL], "no-store");
    let vary: Vec<_> = headers.get_all(VARY).iter().collect();
    assert_eq!(vary, ["Accept", "Cookie"]);

    // A response that does not set the cookie keeps the handler's caching headers.
    let cookie = session_cookie(&response);
    let response = call(&app, "/cached", Some(&cookie)).await;
    assert!(response.headers().get(SET_COOKIE).is_none());
    assert_eq!(response.headers()[CACHE_CONTROL], "public, max-age=3600");
}

#[tokio::test]
async fn backend_errors_answer_503_without_set_cookie() {
    let (manager, store) = instrumented_memory(Options::default());
    let app = app(SessionLayer::new(manager));
    let created = call(&app, "/set", None).await;
    let cookie = session_cookie(&created);

    store.set_down(true);
    for (path, cookie) in [("/read", Some(cookie.as_str())), ("/set", None)] {
        let response = call(&app, path, cookie).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(response.headers().get(SET_COOKIE).is_none(), "{path}");
    }
    // Core remembers the failure, so swallowing it in the handler does not hide it.
    let response = call(&app, "/swallow", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().get(SET_COOKIE).is_none());

    store.set_down(false);
    let response = call(&app, "/read", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body(response).await, "v");
}

#[tokio::test]
async fn the_error_hook_replaces_every_session_error_response() {
    let (manager, store) = instrumented_memory(Options::default());
    let layer = SessionLayer::new(manager).on_error(|e: &Error| {
        let status = if e.is_backend() {
            StatusCode::IM_A_TEAPOT
        } else {
            StatusCode::BAD_GATEWAY
        };
        (status, format!("custom: backend={}", e.is_backend())).into_response()
    });
    let app = app(layer);
    let created = call(&app, "/set", None).await;
    let cookie = session_cookie(&created);

    store.set_down(true);
    // Returned by the handler through `?`.
    let response = call(&app, "/read", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::IM_A_TEAPOT);
    assert!(response.headers().get(SET_COOKIE).is_none());
    assert_eq!(body(response).await, "custom: backend=true");
    // Swallowed by the handler, caught at commit.
    let response = call(&app, "/swallow", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::IM_A_TEAPOT);
    assert!(response.headers().get(SET_COOKIE).is_none());
    store.set_down(false);

    // A non-backend error returned by the handler goes through the hook too.
    let response = call(&app, "/wrong-type", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(body(response).await, "custom: backend=false");
}

#[tokio::test]
async fn non_backend_handler_errors_are_500_by_default_and_changes_still_commit() {
    let (manager, _) = instrumented_memory(Options::default());
    let app = app(SessionLayer::new(manager));
    let response = call(&app, "/wrong-type", None).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    // The value set before the error was stored, so the client gets its cookie.
    let cookie = session_cookie(&response);
    assert!(response.headers()[CACHE_CONTROL] == "no-store");
    let response = call(&app, "/wrong-type", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(response.headers().get(SET_COOKIE).is_none());
}

#[tokio::test]
async fn session_error_without_the_layer_uses_the_default_mapping() {
    let backend = SessionError::from(Error::backend("memory", "down")).into_response();
    assert_eq!(backend.status(), StatusCode::SERVICE_UNAVAILABLE);
    let other = SessionError::from(Error::Corrupt("bad record".into())).into_response();
    assert_eq!(other.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(backend.headers()[CACHE_CONTROL], "no-store");
    assert_eq!(other.headers()[CACHE_CONTROL], "no-store");
    // Error details stay in the log: the body is core's public message.
    assert_eq!(body(backend).await, "session store unavailable");
    assert_eq!(body(other).await, "session error");
}

#[tokio::test]
async fn the_extractor_without_the_layer_is_a_clear_500() {
    let app: Router = Router::new().route("/read", get(read));
    let response = call(&app, "/read", None).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let text = body(response).await;
    assert!(text.contains("SessionLayer is not installed"), "{text}");
}

#[tokio::test]
async fn the_extractor_is_a_cloneable_handle_usable_from_spawned_tasks() {
    let (manager, _) = instrumented_memory(Options::default());
    let app: Router = Router::new()
        .route(
            "/spawn",
            get(|session: Session| async move {
                let handle = session.clone();
                let task = tokio::spawn(async move { handle.set("k", "from a task").await });
                task.await
                    .map_err(|_| Error::Corrupt("task panicked".into()))
                    .map_err(SessionError)?
                    .map_err(SessionError)?;
                Ok::<_, SessionError>("done")
            }),
        )
        .route("/read", get(read))
        .layer(SessionLayer::new(manager));
    let response = call(&app, "/spawn", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = session_cookie(&response);
    let response = call(&app, "/read", Some(&cookie)).await;
    assert_eq!(body(response).await, "from a task");
}

#[tokio::test]
async fn every_cookie_header_is_read() {
    let (manager, _) = instrumented_memory(Options::default());
    let app = app(SessionLayer::new(manager));
    let cookie = session_cookie(&call(&app, "/set", None).await);
    // HTTP/2 clients may split cookies over several header lines.
    let request = Request::get("/read")
        .header(COOKIE, "theme=dark")
        .header(COOKIE, format!("other=1; {cookie}"))
        .body(Body::empty())
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("infallible");
    assert_eq!(body(response).await, "v");
}
