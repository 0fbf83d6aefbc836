//! The demo's routes: actix-web routing and extraction around the shared handler logic of
//! `demo_support::contract`, kept apart from `main` so the tests can serve the very same app.

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{App, HttpResponse, HttpServer, web};
use adapter_actix::{
    CsrfMiddleware, Flash, OutagePolicyMiddleware, Session, SessionError, SessionMiddleware,
    TransportMiddleware,
};
use demo_support::contract::{self, Login, NewFlash, Reply, Revoke};
use demo_support::pages::{self, SignIn};
use session_core::Manager;

/// Every route of the contract, behind a [`SessionMiddleware`] over `manager`, reading bodies
/// up to [`contract::BODY_LIMIT`]. The public page keeps serving while the store is down
/// ([`OutagePolicyMiddleware`]); the other routes answer 503 then. The `/api` scope takes
/// the session from `Authorization: Bearer` only ([`TransportMiddleware`]);
/// `/csrf/protected` is behind the [`CsrfMiddleware`], and so is the `/app` page set
/// (`demo_support::pages`).
/// `/login/remember` is the login with remember-me; the `/both` routes take the session from
/// the token header when the request carries one, else from the cookie (`Transport::Both`).
pub fn app(
    manager: Manager,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(web::Data::new(manager.clone()))
        .app_data(web::PayloadConfig::new(contract::BODY_LIMIT))
        .wrap(SessionMiddleware::new(manager))
        .route("/", web::get().to(index))
        .service(
            web::resource("/session/{key}")
                .route(web::get().to(get_value))
                .route(web::put().to(put_value))
                .route(web::delete().to(delete_value)),
        )
        .route("/login", web::post().to(login))
        .route("/whoami", web::get().to(whoami))
        .route("/logout", web::post().to(logout))
        .route("/login/remember", web::post().to(login_remembered))
        .service(
            web::scope("/both")
                .wrap(TransportMiddleware::new(session_core::Transport::Both))
                .route("/login", web::post().to(login))
                .route("/whoami", web::get().to(whoami))
                .route("/logout", web::post().to(logout)),
        )
        .route("/logout-everywhere", web::post().to(logout_everywhere))
        .route("/devices", web::get().to(devices))
        .route("/devices/revoke", web::post().to(revoke_device))
        .route("/stats", web::get().to(stats))
        .route("/metrics", web::get().to(metrics))
        .route("/signup", web::get().to(signup))
        .route("/flash", web::get().to(show_flash))
        .route("/flash", web::post().to(add_flash))
        .service(
            web::resource("/public")
                .wrap(OutagePolicyMiddleware::anonymous())
                .route(web::get().to(public_page))
                .route(web::post().to(public_visit)),
        )
        .route("/csrf", web::get().to(csrf_token))
        .service(
            web::resource("/csrf/protected")
                .wrap(CsrfMiddleware::new())
                .route(web::get().to(csrf_protected))
                .route(web::post().to(csrf_protected)),
        )
        .service(
            web::scope("/app")
                .wrap(CsrfMiddleware::new())
                .route("", web::get().to(app_page))
                .route("/login", web::post().to(app_sign_in))
                .route("/logout", web::post().to(app_sign_out))
                .route(
                    "/logout-everywhere",
                    web::post().to(app_sign_out_everywhere),
                )
                .route("/devices/revoke", web::post().to(app_revoke)),
        )
        .service(
            web::scope("/api")
                .wrap(TransportMiddleware::header())
                .route("/login", web::post().to(login))
                .route("/whoami", web::get().to(whoami))
                .route("/logout", web::post().to(logout)),
        )
}

/// An HTTP server for [`app`] on `listener`; it must be awaited inside an actix system.
pub fn server(manager: Manager, listener: std::net::TcpListener) -> std::io::Result<Server> {
    Ok(HttpServer::new(move || app(manager.clone()))
        .listen(listener)?
        .run())
}

type Answer = Result<HttpResponse, SessionError>;

/// The shared handler's reply as an actix-web response; its session error goes to the
/// middleware.
fn respond(answer: contract::Answer) -> Answer {
    let Reply {
        status,
        content_type,
        body,
        location,
    } = answer?;
    let mut response = HttpResponse::build(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    );
    if let Some(content_type) = content_type {
        response.content_type(content_type);
    }
    if let Some(location) = location {
        response.insert_header((LOCATION, location));
    }
    Ok(response.body(body))
}

async fn index(session: Session) -> Answer {
    respond(contract::index(&session).await)
}

async fn get_value(session: Session, key: web::Path<String>) -> Answer {
    respond(contract::get_value(&session, &key).await)
}

async fn put_value(session: Session, key: web::Path<String>, value: String) -> Answer {
    respond(contract::put_value(&session, &key, &value).await)
}

async fn delete_value(session: Session, key: web::Path<String>) -> Answer {
    respond(contract::delete_value(&session, &key).await)
}

async fn login(session: Session, form: web::Form<Login>) -> Answer {
    respond(contract::login(&session, &form).await)
}

async fn login_remembered(session: Session, form: web::Form<contract::RememberedLogin>) -> Answer {
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

async fn revoke_device(session: Session, form: web::Form<Revoke>) -> Answer {
    respond(contract::revoke_device(&session, &form).await)
}

async fn public_page(session: Session) -> Answer {
    respond(contract::public_page(&session).await)
}

async fn public_visit(session: Session) -> Answer {
    respond(contract::public_visit(&session).await)
}

async fn stats(manager: web::Data<Manager>) -> Answer {
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

async fn add_flash(flash: Flash, form: web::Form<NewFlash>) -> Answer {
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

async fn app_sign_in(flash: Flash, form: web::Form<SignIn>) -> Answer {
    respond(pages::sign_in(&flash, &form).await)
}

async fn app_sign_out(flash: Flash) -> Answer {
    respond(pages::sign_out(&flash).await)
}

async fn app_sign_out_everywhere(flash: Flash) -> Answer {
    respond(pages::sign_out_everywhere(&flash).await)
}

async fn app_revoke(flash: Flash, form: web::Form<Revoke>) -> Answer {
    respond(pages::revoke(&flash, &form).await)
}
