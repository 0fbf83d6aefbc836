//! The demo's routes: poem routing and extraction around the shared handler logic of
//! `demo_support::contract`, kept apart from `main` so the tests can serve the very same app.

use adapter_poem::{
    CsrfMiddleware, Flash, OutagePolicyMiddleware, Session, SessionError, SessionMiddleware,
    TransportMiddleware,
};
use demo_support::contract::{self, Login, NewFlash, Reply, Revoke};
use demo_support::pages::{self, SignIn};
use poem::http::StatusCode;
use poem::http::header::LOCATION;
use poem::web::{Data, Form, Path};
use poem::{Endpoint, EndpointExt, Response, Route, get, handler, post};
use session_core::Manager;

/// Every route of the contract, behind a [`SessionMiddleware`] over `manager`; the public page
/// keeps serving while the store is down ([`OutagePolicyMiddleware`]), the other routes
/// answer 503 then. poem reads
/// request bodies without a limit of its own, so an oversized value reaches the session layer
/// (which answers 413) as in the other demos, whose limit is [`contract::BODY_LIMIT`].
/// The `/api` routes take the session from `Authorization: Bearer` only
/// ([`TransportMiddleware`]); `/csrf/protected` is behind the [`CsrfMiddleware`], and so is
/// the `/app` page set (`demo_support::pages`).
/// `/login/remember` is the login with remember-me; the `/both` routes take the session from
/// the token header when the request carries one, else from the cookie (`Transport::Both`).
pub fn app(manager: Manager) -> impl Endpoint<Output = Response> {
    Route::new()
        .at("/", get(index))
        .at(
            "/session/:key",
            get(get_value).put(put_value).delete(delete_value),
        )
        .at("/login", post(login))
        .at("/whoami", get(whoami))
        .at("/logout", post(logout))
        .at("/login/remember", post(login_remembered))
        .nest(
            "/both",
            Route::new()
                .at("/login", post(login))
                .at("/whoami", get(whoami))
                .at("/logout", post(logout))
                .with(TransportMiddleware::new(session_core::Transport::Both)),
        )
        .at("/logout-everywhere", post(logout_everywhere))
        .at("/devices", get(devices))
        .at("/devices/revoke", post(revoke_device))
        .at("/stats", get(stats))
        .at("/metrics", get(metrics))
        .at("/signup", get(signup))
        .at("/flash", get(show_flash).post(add_flash))
        .at(
            "/public",
            get(public_page)
                .post(public_visit)
                .with(OutagePolicyMiddleware::anonymous()),
        )
        .at("/csrf", get(csrf_token))
        .at(
            "/csrf/protected",
            get(csrf_protected)
                .post(csrf_protected)
                .with(CsrfMiddleware::new()),
        )
        .at("/app", get(app_page).with(CsrfMiddleware::new()))
        .at("/app/login", post(app_sign_in).with(CsrfMiddleware::new()))
        .at(
            "/app/logout",
            post(app_sign_out).with(CsrfMiddleware::new()),
        )
        .at(
            "/app/logout-everywhere",
            post(app_sign_out_everywhere).with(CsrfMiddleware::new()),
        )
        .at(
            "/app/devices/revoke",
            post(app_revoke).with(CsrfMiddleware::new()),
        )
        .nest(
            "/api",
            Route::new()
                .at("/login", post(login))
                .at("/whoami", get(whoami))
                .at("/logout", post(logout))
                .with(TransportMiddleware::header()),
        )
        .data(manager.clone())
        .with(SessionMiddleware::new(manager))
}

type Answer = Result<Response, SessionError>;

/// The shared handler's reply as a poem response; its session error goes to the middleware.
fn respond(answer: contract::Answer) -> Answer {
    let Reply {
        status,
        content_type,
        body,
        location,
    } = answer?;
    let mut response = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    if let Some(content_type) = content_type {
        response = response.content_type(content_type);
    }
    if let Some(location) = location {
        response = response.header(LOCATION, location);
    }
    Ok(response.body(body))
}

#[handler]
async fn index(session: Session) -> Answer {
    respond(contract::index(&session).await)
}

#[handler]
async fn get_value(session: Session, Path(key): Path<String>) -> Answer {
    respond(contract::get_value(&session, &key).await)
}

#[handler]
async fn put_value(session: Session, Path(key): Path<String>, value: String) -> Answer {
    respond(contract::put_value(&session, &key, &value).await)
}

#[handler]
async fn delete_value(session: Session, Path(key): Path<String>) -> Answer {
    respond(contract::delete_value(&session, &key).await)
}

#[handler]
async fn login(session: Session, Form(form): Form<Login>) -> Answer {
    respond(contract::login(&session, &form).await)
}

#[handler]
async fn login_remembered(session: Session, Form(form): Form<contract::RememberedLogin>) -> Answer {
    respond(contract::login_remembered(&session, &form).await)
}

#[handler]
async fn whoami(session: Session) -> Answer {
    respond(contract::whoami(&session).await)
}

#[handler]
async fn logout(session: Session) -> Answer {
    respond(contract::logout(&session).await)
}

#[handler]
async fn logout_everywhere(session: Session) -> Answer {
    respond(contract::logout_everywhere(&session).await)
}

#[handler]
async fn devices(session: Session) -> Answer {
    respond(contract::devices(&session).await)
}

#[handler]
async fn revoke_device(session: Session, Form(form): Form<Revoke>) -> Answer {
    respond(contract::revoke_device(&session, &form).await)
}

#[handler]
async fn public_page(session: Session) -> Answer {
    respond(contract::public_page(&session).await)
}

#[handler]
async fn public_visit(session: Session) -> Answer {
    respond(contract::public_visit(&session).await)
}

#[handler]
async fn stats(manager: Data<&Manager>) -> Answer {
    respond(contract::stats(&manager).await)
}

#[handler]
async fn metrics() -> Answer {
    respond(Ok(contract::metrics()))
}

#[handler]
async fn signup(flash: Flash) -> Answer {
    respond(contract::signup(&flash).await)
}

#[handler]
async fn show_flash(flash: Flash) -> Answer {
    respond(contract::show_flash(&flash).await)
}

#[handler]
async fn add_flash(flash: Flash, Form(form): Form<NewFlash>) -> Answer {
    respond(contract::add_flash(&flash, &form).await)
}

#[handler]
async fn csrf_token(session: Session) -> Answer {
    respond(contract::csrf_token(&session).await)
}

#[handler]
async fn csrf_protected() -> Answer {
    respond(Ok(contract::csrf_protected()))
}

#[handler]
async fn app_page(flash: Flash) -> Answer {
    respond(pages::app(&flash).await)
}

#[handler]
async fn app_sign_in(flash: Flash, Form(form): Form<SignIn>) -> Answer {
    respond(pages::sign_in(&flash, &form).await)
}

#[handler]
async fn app_sign_out(flash: Flash) -> Answer {
    respond(pages::sign_out(&flash).await)
}

#[handler]
async fn app_sign_out_everywhere(flash: Flash) -> Answer {
    respond(pages::sign_out_everywhere(&flash).await)
}

#[handler]
async fn app_revoke(flash: Flash, Form(form): Form<Revoke>) -> Answer {
    respond(pages::revoke(&flash, &form).await)
}
