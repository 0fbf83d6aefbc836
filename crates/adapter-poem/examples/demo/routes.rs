//! The demo's routes: the HTTP contract every adapter's demo serves (see the `http-scenarios`
//! crate) plus Macaron's flash example, kept apart from `main` so the tests can serve the very
//! same app.

use adapter_poem::{Flash, Session, SessionError, SessionMiddleware};
use poem::http::StatusCode;
use poem::web::{Data, Form, Html, Json, Path};
use poem::{Endpoint, EndpointExt, IntoResponse, Response, Route, get, handler, post};
use serde::Deserialize;
use session_core::Manager;
use session_flash::{Level, Show};

/// The seed's `templates/signup.tmpl`, as a minijinja template.
const SIGNUP: &str = "<h2>{{ Flash.SuccessMsg }}</h2>
<h2>{{ Flash.ErrorMsg }}</h2>
<h2>{{ Flash.InfoMsg }}</h2>
<h2>{{ Flash.WarningMsg }}</h2>
";

/// Every route of the contract, behind a [`SessionMiddleware`] over `manager`.
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
        .at("/logout-everywhere", post(logout_everywhere))
        .at("/stats", get(stats))
        .at("/signup", get(signup))
        .at("/flash", get(show_flash).post(add_flash))
        .data(manager.clone())
        .with(SessionMiddleware::new(manager))
}

type Answer = Result<Response, SessionError>;

/// Macaron's seed example.
#[handler]
async fn index(session: Session) -> Result<String, SessionError> {
    session.set("session", "session middleware").await?;
    Ok(session.get::<String>("session").await?.unwrap_or_default())
}

#[handler]
async fn get_value(session: Session, Path(key): Path<String>) -> Answer {
    Ok(match session.get::<String>(&key).await? {
        Some(value) => value.into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    })
}

#[handler]
async fn put_value(session: Session, Path(key): Path<String>, value: String) -> Answer {
    session.set(&key, &value).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[handler]
async fn delete_value(session: Session, Path(key): Path<String>) -> Answer {
    session.delete(&key).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct Login {
    user: String,
}

/// A new ID at login defeats session fixation; the owner binding enables "log out everywhere".
#[handler]
async fn login(session: Session, Form(login): Form<Login>) -> Answer {
    if login.user.is_empty() {
        return Ok("user must not be empty"
            .with_status(StatusCode::BAD_REQUEST)
            .into_response());
    }
    session.regenerate().await?;
    session.set("uid", &login.user).await?;
    session.set_owner(Some(&login.user)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[handler]
async fn whoami(session: Session) -> Answer {
    Ok(match session.get::<String>("uid").await? {
        Some(uid) => uid.into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    })
}

#[handler]
async fn logout(session: Session) -> Answer {
    session.destroy().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[handler]
async fn logout_everywhere(session: Session) -> Answer {
    match session.destroy_other_sessions().await {
        Ok(destroyed) => Ok(Json(serde_json::json!({ "destroyed": destroyed })).into_response()),
        Err(e) if e.is_unsupported() => Ok(e
            .to_string()
            .with_status(StatusCode::NOT_IMPLEMENTED)
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

/// The number of live sessions, `null` when the provider cannot count them (memcached,
/// couchbase): a made-up number would be worse than none.
#[handler]
async fn stats(manager: Data<&Manager>) -> Answer {
    let count = match manager.count().await {
        Ok(n) => Some(n),
        Err(e) if e.is_unsupported() => None,
        Err(e) => return Err(e.into()),
    };
    Ok(Json(serde_json::json!({ "count": count })).into_response())
}

/// Macaron's flash example: queues four messages for the next page and renders the ones
/// queued before.
#[handler]
async fn signup(flash: Flash) -> Answer {
    flash.success("yes!!!").await?;
    flash.error("opps...").await?;
    flash.info("aha?!").await?;
    flash.warning("Just be careful.").await?;
    render(&flash).await
}

/// Renders the flashes without adding any (and so consumes them).
#[handler]
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
#[handler]
async fn add_flash(flash: Flash, Form(form): Form<NewFlash>) -> Answer {
    let level = match form.level.as_str() {
        "success" => Level::Success,
        "error" => Level::Error,
        "info" => Level::Info,
        "warning" => Level::Warning,
        _ => {
            return Ok("unknown level"
                .with_status(StatusCode::BAD_REQUEST)
                .into_response());
        }
    };
    let show = if form.now { Show::Now } else { Show::Next };
    flash.add(level, form.text, show).await?;
    render(&flash).await
}

async fn render(flash: &Flash) -> Answer {
    let view = flash.view().await?;
    // The `.html` name turns minijinja's autoescaping on: message text is data.
    let env = minijinja::Environment::new();
    match env.render_named_str("signup.html", SIGNUP, minijinja::context! { Flash => view }) {
        Ok(html) => Ok(Html(html).into_response()),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            Ok("template error"
                .with_status(StatusCode::INTERNAL_SERVER_ERROR)
                .into_response())
        }
    }
}
