//! The demo's routes: axum routing and extraction around the shared handler logic of
//! `demo_support::contract`, kept apart from `main` so the tests can serve the very same app.

use adapter_axum::{
    CsrfLayer, Flash, OutagePolicyLayer, Session, SessionError, SessionLayer, TransportLayer,
};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use demo_support::contract::{self, Login, NewFlash, Reply, Revoke};
use demo_support::pages::{self, SignIn};
use session_core::Manager;

/// Every route of the contract, behind a [`SessionLayer`] over `manager`, reading bodies up to
/// [`contract::BODY_LIMIT`]. The public page keeps serving while the store is down
/// ([`OutagePolicyLayer`]); the other routes answer 503 then. The `/api` routes take the
/// session from `Authorization: Bearer` only ([`TransportLayer`]); `/csrf/protected` is
/// behind the [`CsrfLayer`], and so is the `/app` page set (`demo_support::pages`).
/// behind the [`CsrfLayer`].
/// `/login/remember` is the login with remember-me; the `/both` routes take the session from
/// the token header when the request carries one, else from the cookie (`Transport::Both`).
pub fn app(manager: Manager) -> Router {
    let public = Router::new()
        .route("/public", get(public_page).post(public_visit))
        .layer(OutagePolicyLayer::anonymous());
    let api = Router::new()
        .route("/api/login", post(login))
        .route("/api/whoami", get(whoami))
        .route("/api/logout", post(logout))
        .layer(TransportLayer::header());
    // The remember-me login, and routes that take the session from the header or the cookie.
    let remember = Router::new().route("/login/remember", post(login_remembered));
    let both = Router::new()
        .route("/both/login", post(login))
        .route("/both/whoami", get(whoami))
        .route("/both/logout", post(logout))
        .layer(TransportLayer::new(session_core::Transport::Both));
    let guarded = Router::new()
        .route("/csrf/protected", get(csrf_protected).post(csrf_protected))
        .layer(CsrfLayer::new());
    let app_pages = Router::new()
        .route("/app", get(app_page))
        .route("/app/login", post(app_sign_in))
        .route("/app/logout", post(app_sign_out))
        .route("/app/logout-everywhere", post(app_sign_out_everywhere))
        .route("/app/devices/revoke", post(app_revoke))
        .layer(CsrfLayer::new());
    Router::new()
        .route("/", get(index))
        .route(
            "/session/{key}",
            get(get_value).put(put_value).delete(delete_value),
        )
        .route("/login", post(login))
        .route("/whoami", get(whoami))
        .route("/logout", post(logout))
        .route("/logout-everywhere", post(logout_everywhere))
        .route("/devices", get(devices))
        .route("/devices/revoke", post(revoke_device))
        .route("/stats", get(stats))
        .route("/metrics", get(metrics))
        .route("/signup", get(signup))
        .route("/flash", get(show_flash).post(add_flash))
        .route("/csrf", get(csrf_token))
        .merge(public)
        .merge(api)
        .merge(guarded)
        .merge(app_pages)
        .merge(remember)
        .merge(both)
        .with_state(manager.clone())
        .layer(DefaultBodyLimit::max(contract::BODY_LIMIT))
        .layer(SessionLayer::new(manager))
}

type Answer = Result<Response, SessionError>;

/// The shared handler's reply as an axum response; its session error goes to the layer.
fn respond(answer: contract::Answer) -> Answer {
    let Reply {
        status,
        content_type,
        body,
        location,
    } = answer?;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match content_type {
        Some(content_type) => (status, [(CONTENT_TYPE, content_type)], body).into_response(),
        None => status.into_response(),
    };
    if let Some(location) = location {
        response
            .headers_mut()
            .insert(LOCATION, HeaderValue::from_static(location));
    }
    Ok(response)
}

async fn index(session: Session) -> Answer {
    respond(contract::index(&session).await)
}

async fn get_value(session: Session, Path(key): Path<String>) -> Answer {
    respond(contract::get_value(&session, &key).await)
}

async fn put_value(session: Session, Path(key): Path<String>, value: String) -> Answer {
    respond(contract::put_value(&session, &key, &value).await)
}

async fn delete_value(session: Session, Path(key): Path<String>) -> Answer {
    respond(contract::delete_value(&session, &key).await)
}

async fn login(session: Session, Form(form): Form<Login>) -> Answer {
    respond(contract::login(&session, &form).await)
}

async fn login_remembered(session: Session, Form(form): Form<contract::RememberedLogin>) -> Answer {
    respond(contract::login_remembered(&session, &form).await)
}

async fn whoami(session: Session) -> Answer {
    respond(contract::whoami(&session).await)
}

async fn logout(session: Session) -> Answer {
    respond(contract::logout(&session).await)
}

async fn logout_everywhere(session: Session) -> Answer {
    respond(contract::logout_everywhere(&session).await)
}

async fn devices(session: Session) -> Answer {
    respond(contract::devices(&session).await)
}

async fn revoke_device(session: Session, Form(form): Form<Revoke>) -> Answer {
    respond(contract::revoke_device(&session, &form).await)
}

async fn public_page(session: Session) -> Answer {
    respond(contract::public_page(&session).await)
}

async fn public_visit(session: Session) -> Answer {
    respond(contract::public_visit(&session).await)
}

async fn stats(State(manager): State<Manager>) -> Answer {
    respond(contract::stats(&manager).await)
}

async fn metrics() -> Answer {
    respond(Ok(contract::metrics()))
}

async fn signup(flash: Flash) -> Answer {
    respond(contract::signup(&flash).await)
}

async fn show_flash(flash: Flash) -> Answer {
    respond(contract::show_flash(&flash).await)
}

async fn add_flash(flash: Flash, Form(form): Form<NewFlash>) -> Answer {
    respond(contract::add_flash(&flash, &form).await)
}

async fn csrf_token(session: Session) -> Answer {
    respond(contract::csrf_token(&session).await)
}

async fn csrf_protected() -> Answer {
    respond(Ok(contract::csrf_protected()))
}

async fn app_page(flash: Flash) -> Answer {
    respond(pages::app(&flash).await)
}

async fn app_sign_in(flash: Flash, Form(form): Form<SignIn>) -> Answer {
    respond(pages::sign_in(&flash, &form).await)
}

async fn app_sign_out(flash: Flash) -> Answer {
    respond(pages::sign_out(&flash).await)
}

async fn app_sign_out_everywhere(flash: Flash) -> Answer {
    respond(pages::sign_out_everywhere(&flash).await)
}

async fn app_revoke(flash: Flash, Form(form): Form<Revoke>) -> Answer {
    respond(pages::revoke(&flash, &form).await)
}
