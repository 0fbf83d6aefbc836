//! The demo's routes: the HTTP contract every adapter's demo serves (see the `http-scenarios`
//! crate) plus Macaron's flash example, kept apart from `main` so the tests can serve the very
//! same app.

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, HttpServer, web};
use adapter_actix::{Flash, Session, SessionError, SessionMiddleware};
use serde::Deserialize;
use session_core::Manager;
use session_flash::{FlashView, Level, Show};

/// The seed's `templates/signup.tmpl`, as a minijinja template.
const SIGNUP: &str = "<h2>{{ Flash.SuccessMsg }}</h2>
<h2>{{ Flash.ErrorMsg }}</h2>
<h2>{{ Flash.InfoMsg }}</h2>
<h2>{{ Flash.WarningMsg }}</h2>
";

/// Every route of the contract, behind a [`SessionMiddleware`] over `manager`.
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
        .route("/logout-everywhere", web::post().to(logout_everywhere))
        .route("/stats", web::get().to(stats))
        .route("/signup", web::get().to(signup))
        .route("/flash", web::get().to(show_flash))
        .route("/flash", web::post().to(add_flash))
}

/// An HTTP server for [`app`] on `listener`; it must be awaited inside an actix system.
pub fn server(manager: Manager, listener: std::net::TcpListener) -> std::io::Result<Server> {
    Ok(HttpServer::new(move || app(manager.clone()))
        .listen(listener)?
        .run())
}

type Answer = Result<HttpResponse, SessionError>;

/// Macaron's seed example.
async fn index(session: Session) -> Result<String, SessionError> {
    session.set("session", "session middleware").await?;
    Ok(session.get::<String>("session").await?.unwrap_or_default())
}

async fn get_value(session: Session, key: web::Path<String>) -> Answer {
    Ok(match session.get::<String>(&key).await? {
        Some(value) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(value),
        None => HttpResponse::NotFound().finish(),
    })
}

async fn put_value(session: Session, key: web::Path<String>, value: String) -> Answer {
    session.set(&key, &value).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn delete_value(session: Session, key: web::Path<String>) -> Answer {
    session.delete(&key).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
struct Login {
    user: String,
}

/// A new ID at login defeats session fixation; the owner binding enables "log out everywhere".
async fn login(session: Session, form: web::Form<Login>) -> Answer {
    if form.user.is_empty() {
        return Ok(HttpResponse::BadRequest().body("user must not be empty"));
    }
    session.regenerate().await?;
    session.set("uid", &form.user).await?;
    session.set_owner(Some(&form.user)).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn whoami(session: Session) -> Answer {
    Ok(match session.get::<String>("uid").await? {
        Some(uid) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(uid),
        None => HttpResponse::Unauthorized().finish(),
    })
}

async fn logout(session: Session) -> Answer {
    session.destroy().await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn logout_everywhere(session: Session) -> Answer {
    match session.destroy_other_sessions().await {
        Ok(destroyed) => Ok(HttpResponse::Ok().json(serde_json::json!({ "destroyed": destroyed }))),
        Err(e) if e.is_unsupported() => Ok(HttpResponse::NotImplemented().body(e.to_string())),
        Err(e) => Err(e.into()),
    }
}

/// The number of live sessions, `null` when the provider cannot count them (memcached,
/// couchbase): a made-up number would be worse than none.
async fn stats(manager: web::Data<Manager>) -> Answer {
    let count = match manager.count().await {
        Ok(n) => Some(n),
        Err(e) if e.is_unsupported() => None,
        Err(e) => return Err(e.into()),
    };
    Ok(HttpResponse::Ok().json(serde_json::json!({ "count": count })))
}

/// Macaron's flash example: queues four messages for the next page and renders the ones
/// queued before.
async fn signup(flash: Flash) -> Answer {
    flash.success("yes!!!").await?;
    flash.error("opps...").await?;
    flash.info("aha?!").await?;
    flash.warning("Just be careful.").await?;
    render(&flash).await
}

/// Renders the flashes without adding any (and so consumes them).
async fn show_flash(flash: Flash) -> Answer {
    render(&flash).await
}

#[derive(Deserialize)]
struct NewFlash {
    level: String,
    text: String,
    #[serde(default)]
    now: bool,
}

/// Adds one message (`level`, `text`, and `now=true` to show it in this response), then
/// renders the page.
async fn add_flash(flash: Flash, form: web::Form<NewFlash>) -> Answer {
    let level = match form.level.as_str() {
        "success" => Level::Success,
        "error" => Level::Error,
        "info" => Level::Info,
        "warning" => Level::Warning,
        _ => return Ok(HttpResponse::BadRequest().body("unknown level")),
    };
    let show = if form.now { Show::Now } else { Show::Next };
    flash.add(level, form.text.clone(), show).await?;
    render(&flash).await
}

async fn render(flash: &Flash) -> Answer {
    let view: FlashView = flash.view().await?;
    // The `.html` name turns minijinja's autoescaping on: message text is data.
    let env = minijinja::Environment::new();
    match env.render_named_str("signup.html", SIGNUP, minijinja::context! { Flash => view }) {
        Ok(html) => Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(html)),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            Ok(HttpResponse::build(StatusCode::INTERNAL_SERVER_ERROR).body("template error"))
        }
    }
}
