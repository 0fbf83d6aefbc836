//! The demo's routes: the HTTP contract every adapter's demo serves (see the `http-scenarios`
//! crate) plus Macaron's flash example, kept apart from `main` so the tests can serve the very
//! same app.

use adapter_axum::{Flash, Session, SessionError, SessionLayer};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use session_core::Manager;
use session_flash::{FlashView, Level, Show};

/// The seed's `templates/signup.tmpl`, as a minijinja template.
const SIGNUP: &str = "<h2>{{ Flash.SuccessMsg }}</h2>
<h2>{{ Flash.ErrorMsg }}</h2>
<h2>{{ Flash.InfoMsg }}</h2>
<h2>{{ Flash.WarningMsg }}</h2>
";

/// Every route of the contract, behind a [`SessionLayer`] over `manager`.
pub fn app(manager: Manager) -> Router {
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
        .route("/stats", get(stats))
        .route("/signup", get(signup))
        .route("/flash", get(show_flash).post(add_flash))
        .with_state(manager.clone())
        .layer(SessionLayer::new(manager))
}

type Answer = Result<Response, SessionError>;

/// Macaron's seed example.
async fn index(session: Session) -> Result<String, SessionError> {
    session.set("session", "session middleware").await?;
    Ok(session.get::<String>("session").await?.unwrap_or_default())
}

async fn get_value(session: Session, Path(key): Path<String>) -> Answer {
    Ok(match session.get::<String>(&key).await? {
        Some(value) => value.into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    })
}

async fn put_value(session: Session, Path(key): Path<String>, value: String) -> Answer {
    session.set(&key, &value).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn delete_value(session: Session, Path(key): Path<String>) -> Answer {
    session.delete(&key).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct Login {
    user: String,
}

/// A new ID at login defeats session fixation; the owner binding enables "log out everywhere".
async fn login(session: Session, Form(login): Form<Login>) -> Answer {
    if login.user.is_empty() {
        return Ok((StatusCode::BAD_REQUEST, "user must not be empty").into_response());
    }
    session.regenerate().await?;
    session.set("uid", &login.user).await?;
    session.set_owner(Some(&login.user)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn whoami(session: Session) -> Answer {
    Ok(match session.get::<String>("uid").await? {
        Some(uid) => uid.into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    })
}

async fn logout(session: Session) -> Answer {
    session.destroy().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn logout_everywhere(session: Session) -> Answer {
    match session.destroy_other_sessions().await {
        Ok(destroyed) => Ok(Json(serde_json::json!({ "destroyed": destroyed })).into_response()),
        Err(e) if e.is_unsupported() => {
            Ok((StatusCode::NOT_IMPLEMENTED, e.to_string()).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// The number of live sessions, `null` when the provider cannot count them (memcached,
/// couchbase): a made-up number would be worse than none.
async fn stats(State(manager): State<Manager>) -> Answer {
    let count = match manager.count().await {
        Ok(n) => Some(n),
        Err(e) if e.is_unsupported() => None,
        Err(e) => return Err(e.into()),
    };
    Ok(Json(serde_json::json!({ "count": count })).into_response())
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
async fn add_flash(flash: Flash, Form(form): Form<NewFlash>) -> Answer {
    let level = match form.level.as_str() {
        "success" => Level::Success,
        "error" => Level::Error,
        "info" => Level::Info,
        "warning" => Level::Warning,
        _ => return Ok((StatusCode::BAD_REQUEST, "unknown level").into_response()),
    };
    let show = if form.now { Show::Now } else { Show::Next };
    flash.add(level, form.text, show).await?;
    render(&flash).await
}

async fn render(flash: &Flash) -> Answer {
    let view: FlashView = flash.view().await?;
    // The `.html` name turns minijinja's autoescaping on: message text is data.
    let env = minijinja::Environment::new();
    match env.render_named_str("signup.html", SIGNUP, minijinja::context! { Flash => view }) {
        Ok(html) => Ok(Html(html).into_response()),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            Ok((StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response())
        }
    }
}
