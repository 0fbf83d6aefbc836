//! The middleware and extractors in-process: error hook, missing middleware, shared flash,
//! the session handle in spawned tasks, commit on error statuses.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, COOKIE, SET_COOKIE};
use actix_web::{App, HttpResponse, test, web};
use adapter_actix::{Flash, Session, SessionError, SessionMiddleware};
use http_scenarios::setups::instrumented_memory;
use session_core::Options;

fn teapot(e: &session_core::Error) -> HttpResponse {
    HttpResponse::build(StatusCode::IM_A_TEAPOT).body(format!("backend={}", e.is_backend()))
}

async fn set_a(session: Session) -> Result<HttpResponse, SessionError> {
    session.set("a", "1").await?;
    Ok(HttpResponse::Ok().finish())
}

async fn fails(session: Session) -> Result<HttpResponse, SessionError> {
    session.set("a", "1").await?;
    Err(session_core::Error::config("demo", "handler failure").into())
}

#[actix_web::test]
async fn the_error_hook_answers_commit_and_handler_failures_without_set_cookie() {
    let (manager, store) = instrumented_memory(Options::default());
    let app = test::init_service(
        App::new()
            .wrap(SessionMiddleware::new(manager).on_error(teapot))
            .route("/set", web::get().to(set_a))
            .route("/fails", web::get().to(fails)),
    )
    .await;

    // A handler's own session error goes through the hook too; its changes are committed.
    let res = test::call_service(&app, test::TestRequest::get().uri("/fails").to_request()).await;
    assert_eq!(res.status(), StatusCode::IM_A_TEAPOT);
    assert!(res.headers().contains_key(SET_COOKIE));
    assert_eq!(test::read_body(res).await, "backend=false");

    store.set_down(true);
    let res = test::call_service(&app, test::TestRequest::get().uri("/set").to_request()).await;
    assert_eq!(res.status(), StatusCode::IM_A_TEAPOT);
    assert!(!res.headers().contains_key(SET_COOKIE));
    assert_eq!(test::read_body(res).await, "backend=true");
}

#[actix_web::test]
async fn default_mapping_is_503_for_backend_failures() {
    let (manager, store) = instrumented_memory(Options::default());
    let app = test::init_service(
        App::new()
            .wrap(SessionMiddleware::new(manager))
            .route("/set", web::get().to(set_a))
            .route("/fails", web::get().to(fails)),
    )
    .await;
    let res = test::call_service(&app, test::TestRequest::get().uri("/fails").to_request()).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(res.headers().get(CACHE_CONTROL).unwrap(), "no-store");
    assert_eq!(test::read_body(res).await, "session error");
    store.set_down(true);
    let res = test::call_service(&app, test::TestRequest::get().uri("/set").to_request()).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(!res.headers().contains_key(SET_COOKIE));
    assert_eq!(res.headers().get(CACHE_CONTROL).unwrap(), "no-store");
    // Core's public message: no detail of the failure reaches the client.
    assert_eq!(test::read_body(res).await, "session store unavailable");
}

#[actix_web::test]
async fn extractors_without_the_middleware_fail_clearly() {
    let app = test::init_service(App::new().route("/session", web::get().to(set_a)).route(
        "/flash",
        web::get().to(|_: Flash| async { HttpResponse::Ok().finish() }),
    ))
    .await;
    for uri in ["/session", "/flash"] {
        let res = test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await;
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = test::read_body(res).await;
        assert!(
            String::from_utf8_lossy(&body).contains("session middleware is not installed"),
            "{body:?}"
        );
    }
}

#[actix_web::test]
async fn one_flash_per_request_is_shared_between_extractions() {
    let (manager, _) = instrumented_memory(Options::default());
    let app = test::init_service(App::new().wrap(SessionMiddleware::new(manager)).route(
        "/",
        web::get().to(|adder: Flash, renderer: Flash| async move {
            adder.warning_now("seen by the renderer");
            let view = renderer.view().await.map_err(SessionError::from)?;
            Ok::<_, SessionError>(view.warning_msg)
        }),
    ))
    .await;
    let res = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(test::read_body(res).await, "seen by the renderer");
}

#[actix_web::test]
async fn the_session_moves_into_spawned_tasks_and_commits_on_error_statuses() {
    let (manager, _) = instrumented_memory(Options::default());
    let app = test::init_service(
        App::new()
            .wrap(SessionMiddleware::new(manager))
            .route(
                "/spawn",
                web::get().to(|session: Session| async move {
                    let inner = session.clone().into_inner();
                    tokio::spawn(async move { inner.set("from", "task").await })
                        .await
                        .expect("task ran")
                        .map_err(SessionError::from)?;
                    // A 4xx answer still commits what the handler changed.
                    Ok::<_, SessionError>(HttpResponse::BadRequest().finish())
                }),
            )
            .route(
                "/read",
                web::get().to(|session: Session| async move {
                    let value = session.get::<String>("from").await?;
                    Ok::<_, SessionError>(value.unwrap_or_default())
                }),
            ),
    )
    .await;
    let res = test::call_service(&app, test::TestRequest::get().uri("/spawn").to_request()).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let set_cookie = res.headers().get(SET_COOKIE).unwrap().to_str().unwrap();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    let req = test::TestRequest::get()
        .uri("/read")
        .insert_header((COOKIE, cookie))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(test::read_body(res).await, "task");
}

/// Handlers may hold both handles across `.await` on a multi-threaded runtime and move them
/// into spawned tasks.
#[actix_web::test]
async fn handles_are_clone_send_sync() {
    fn assert_handle<T: Clone + Send + Sync + 'static>() {}
    assert_handle::<Session>();
    assert_handle::<Flash>();
    assert_handle::<SessionMiddleware>();
}
