//! The middleware and extractors in-process: error hook, missing middleware, shared flash,
//! the session handle in spawned tasks, commit on error statuses, other errors passed on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use adapter_poem::{Flash, Session, SessionError, SessionMiddleware};
use http_scenarios::setups::instrumented_memory;
use poem::http::header::{CACHE_CONTROL, COOKIE, SET_COOKIE};
use poem::http::{Method, StatusCode};
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, get, handler};
use session_core::Options;

fn teapot(e: &session_core::Error) -> Response {
    format!("backend={}", e.is_backend())
        .with_status(StatusCode::IM_A_TEAPOT)
        .into_response()
}

fn request(uri: &str, cookie: Option<&str>) -> Request {
    let mut builder = Request::builder().method(Method::GET).uri_str(uri);
    if let Some(cookie) = cookie {
        builder = builder.header(COOKIE, cookie);
    }
    builder.finish()
}

async fn body(response: Response) -> String {
    response.into_body().into_string().await.unwrap()
}

#[handler]
async fn set_a(session: Session) -> Result<&'static str, SessionError> {
    session.set("a", "1").await?;
    Ok("ok")
}

#[handler]
async fn fails(session: Session) -> Result<&'static str, SessionError> {
    session.set("a", "1").await?;
    Err(session_core::Error::config("demo", "handler failure").into())
}

#[handler]
async fn not_found_after_write(session: Session) -> poem::Result<&'static str> {
    session.set("a", "1").await.map_err(SessionError::from)?;
    Err(poem::error::NotFoundError.into())
}

#[handler]
async fn not_found_untouched() -> poem::Result<&'static str> {
    Err(poem::error::NotFoundError.into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_error_hook_answers_commit_and_handler_failures_without_set_cookie() {
    let (manager, store) = instrumented_memory(Options::default());
    let app = Route::new()
        .at("/set", get(set_a))
        .at("/fails", get(fails))
        .with(SessionMiddleware::new(manager).on_error(teapot));

    // A handler's own session error goes through the hook too; its changes are committed.
    let res = app.call(request("/fails", None)).await.unwrap();
    assert_eq!(res.status(), StatusCode::IM_A_TEAPOT);
    assert!(res.headers().contains_key(SET_COOKIE));
    assert_eq!(body(res).await, "backend=false");

    store.set_down(true);
    let res = app.call(request("/set", None)).await.unwrap();
    assert_eq!(res.status(), StatusCode::IM_A_TEAPOT);
    assert!(!res.headers().contains_key(SET_COOKIE));
    assert_eq!(body(res).await, "backend=true");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_mapping_is_503_for_backend_failures() {
    let (manager, store) = instrumented_memory(Options::default());
    let app = Route::new()
        .at("/set", get(set_a))
        .at("/fails", get(fails))
        .with(SessionMiddleware::new(manager));
    let res = app.call(request("/fails", None)).await.unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    assert_eq!(body(res).await, "session error");
    store.set_down(true);
    let res = app.call(request("/set", None)).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(!res.headers().contains_key(SET_COOKIE));
    assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    // Core's public message: no detail of the failure reaches the client.
    assert_eq!(body(res).await, "session store unavailable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_errors_stay_errors_unless_a_cookie_rides_on_them() {
    let (manager, _) = instrumented_memory(Options::default());
    let app = Route::new()
        .at("/untouched", get(not_found_untouched))
        .at("/written", get(not_found_after_write))
        .with(SessionMiddleware::new(manager));

    let err = app
        .call(request("/untouched", None))
        .await
        .expect_err("an error for outer middleware");
    assert_eq!(err.status(), StatusCode::NOT_FOUND);

    let res = app.call(request("/written", None)).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.headers().contains_key(SET_COOKIE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extractors_without_the_middleware_fail_clearly() {
    #[handler]
    async fn flash_only(_flash: Flash) -> &'static str {
        "unreachable"
    }
    let app = Route::new()
        .at("/session", get(set_a))
        .at("/flash", get(flash_only));
    for uri in ["/session", "/flash"] {
        let res = app.get_response(request(uri, None)).await;
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            body(res)
                .await
                .contains("session middleware is not installed")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_flash_per_request_is_shared_between_extractions() {
    #[handler]
    async fn both(adder: Flash, renderer: Flash) -> Result<String, SessionError> {
        adder.warning_now("seen by the renderer");
        Ok(renderer.view().await?.warning_msg)
    }
    let (manager, _) = instrumented_memory(Options::default());
    let app = Route::new()
        .at("/", get(both))
        .with(SessionMiddleware::new(manager));
    let res = app.call(request("/", None)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body(res).await, "seen by the renderer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_moves_into_spawned_tasks_and_commits_on_error_statuses() {
    #[handler]
    async fn spawn(session: Session) -> Result<Response, SessionError> {
        let inner = session.clone().into_inner();
        tokio::spawn(async move { inner.set("from", "task").await })
            .await
            .expect("task ran")?;
        // A 4xx answer still commits what the handler changed.
        Ok(StatusCode::BAD_REQUEST.into_response())
    }
    #[handler]
    async fn read(session: Session) -> Result<String, SessionError> {
        Ok(session.get::<String>("from").await?.unwrap_or_default())
    }
    let (manager, _) = instrumented_memory(Options::default());
    let app = Route::new()
        .at("/spawn", get(spawn))
        .at("/read", get(read))
        .with(SessionMiddleware::new(manager));
    let res = app.call(request("/spawn", None)).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let set_cookie = res.headers().get(SET_COOKIE).unwrap().to_str().unwrap();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let res = app.call(request("/read", Some(&cookie))).await.unwrap();
    assert_eq!(body(res).await, "task");
}

/// Handlers may hold both handles across `.await` on a multi-threaded runtime and move them
/// into spawned tasks.
#[test]
fn handles_are_clone_send_sync() {
    fn assert_handle<T: Clone + Send + Sync + 'static>() {}
    assert_handle::<Session>();
    assert_handle::<Flash>();
    assert_handle::<SessionMiddleware>();
}
