//! The demo contract's handlers, written once against the framework-neutral session and flash
//! handles. Each demo extracts the request's parts with its own framework, calls the function
//! of the route, and turns the [`Reply`] into its framework's response (and the error into
//! its adapter's `SessionError`, so failures take the adapter's error path).
//!
//! The routes and what they answer are listed in the `http-scenarios` crate, which checks them
//! against all three demos.

use serde::Deserialize;
use session_core::{DeviceHandle, Manager, Session};
use session_flash::{Flash, Level, Show};

/// `Content-Type` of text answers.
pub const TEXT: &str = "text/plain; charset=utf-8";
/// `Content-Type` of the signup page and the page set.
pub const HTML: &str = "text/html; charset=utf-8";
/// `Content-Type` of the JSON answers.
pub const JSON: &str = "application/json";
/// `Content-Type` of the Prometheus text format.
pub const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The largest request body the demos read, set in each framework's body limit. It is far
/// above any `max_record_size` a demo runs with, so that an oversized value is refused by the
/// session layer (413 from core's response rule), as an application would see it, and not
/// by the framework first.
pub const BODY_LIMIT: usize = 16 << 20;

/// What a route answers, before a framework turns it into its own response type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status code; always one of the standard codes.
    pub status: u16,
    /// The `Content-Type`, when there is a body.
    pub content_type: Option<&'static str>,
    /// The body (empty for 204 and the bare error statuses).
    pub body: String,
    /// The `Location` of a redirect (the page set's `303 See Other` after each form).
    pub location: Option<&'static str>,
}

impl Reply {
    pub(crate) fn empty(status: u16) -> Self {
        Reply {
            status,
            content_type: None,
            body: String::new(),
            location: None,
        }
    }

    pub(crate) fn text(status: u16, body: impl Into<String>) -> Self {
        Reply {
            content_type: Some(TEXT),
            body: body.into(),
            ..Reply::empty(status)
        }
    }

    fn json(value: &serde_json::Value) -> Self {
        Reply {
            content_type: Some(JSON),
            body: value.to_string(),
            ..Reply::empty(200)
        }
    }

    /// A `200` HTML page, or the 500 of a template that failed to render (logged: a bug in
    /// the template, not the client's fault).
    pub(crate) fn html(rendered: Result<String, minijinja::Error>) -> Self {
        match rendered {
            Ok(html) => Reply {
                content_type: Some(HTML),
                body: html,
                ..Reply::empty(200)
            },
            Err(e) => {
                tracing::error!(error = %e, "template failed");
                Reply::text(500, "template error")
            }
        }
    }

    /// `303 See Other` to `location`: after a form's POST the browser GETs the page, so a
    /// reload does not send the form again.
    pub(crate) fn see_other(location: &'static str) -> Self {
        Reply {
            location: Some(location),
            ..Reply::empty(303)
        }
    }
}

/// A route's outcome: a [`Reply`], or a session failure for the adapter to answer.
pub type Answer = session_core::Result<Reply>;

/// The form of `POST /login`.
#[derive(Debug, Clone, Deserialize)]
pub struct Login {
    /// The user to log in; must not be empty.
    pub user: String,
}

/// The form of `POST /devices/revoke`.
#[derive(Debug, Clone, Deserialize)]
pub struct Revoke {
    /// The device's handle, as `GET /devices` listed it.
    pub handle: String,
}

/// The form of `POST /flash`.
#[derive(Debug, Clone, Deserialize)]
pub struct NewFlash {
    /// `success`, `error`, `info` or `warning`; anything else is a 400.
    pub level: String,
    /// The message text.
    pub text: String,
    /// `true` to show the message in this response instead of the next one.
    #[serde(default)]
    pub now: bool,
}

/// `GET /`: Macaron's seed example.
pub async fn index(session: &Session) -> Answer {
    session.set("session", "session middleware").await?;
    let value = session.get::<String>("session").await?;
    Ok(Reply::text(200, value.unwrap_or_default()))
}

/// `GET /session/{key}`: the stored string, or 404.
pub async fn get_value(session: &Session, key: &str) -> Answer {
    Ok(match session.get::<String>(key).await? {
        Some(value) => Reply::text(200, value),
        None => Reply::empty(404),
    })
}

/// `PUT /session/{key}` with the value as the body.
pub async fn put_value(session: &Session, key: &str, value: &str) -> Answer {
    session.set(key, value).await?;
    Ok(Reply::empty(204))
}

/// `DELETE /session/{key}`.
pub async fn delete_value(session: &Session, key: &str) -> Answer {
    session.delete(key).await?;
    Ok(Reply::empty(204))
}

/// `POST /login`. A new ID at login defeats session fixation; the owner binding enables "log
/// out everywhere" and the devices page. The binding comes first: under a per-owner cap
/// with the `refuse` policy, a login over the cap is refused there (409) before anything is
/// written, so the visitor's session stays as it was.
pub async fn login(session: &Session, form: &Login) -> Answer {
    if form.user.is_empty() {
        return Ok(Reply::text(400, "user must not be empty"));
    }
    session.set_owner(Some(&form.user)).await?;
    session.regenerate().await?;
    session.set("uid", &form.user).await?;
    Ok(Reply::empty(204))
}

/// `GET /whoami`: the logged-in user, or 401.
pub async fn whoami(session: &Session) -> Answer {
    Ok(match session.get::<String>("uid").await? {
        Some(uid) => Reply::text(200, uid),
        None => Reply::empty(401),
    })
}

/// `POST /logout`.
pub async fn logout(session: &Session) -> Answer {
    session.destroy().await?;
    Ok(Reply::empty(204))
}

/// `GET /csrf`: the session's CSRF token as text (stored, so the session is created if it
/// was not; see `session_core::csrf`).
pub async fn csrf_token(session: &Session) -> Answer {
    Ok(Reply::text(200, session.csrf_token().await?))
}

/// `GET|POST /csrf/protected`, behind the adapter's CSRF guard: 204 once the guard let the
/// request through (a POST only with the session's token).
pub fn csrf_protected() -> Reply {
    Reply::empty(204)
}

/// `POST /logout-everywhere`: `{"destroyed": N}`, or 501 when the provider keeps no owner
/// index (its capabilities say so; the session is then not even loaded).
pub async fn logout_everywhere(session: &Session) -> Answer {
    if let Some(reply) = without_owner_index(session) {
        return Ok(reply);
    }
    let destroyed = session.destroy_other_sessions().await?;
    Ok(Reply::json(&serde_json::json!({ "destroyed": destroyed })))
}

/// 501 when the provider keeps no owner index (its capabilities say so), for the routes
/// that need one.
fn without_owner_index(session: &Session) -> Option<Reply> {
    missing_owner_index(session).map(|why| Reply::text(501, why))
}

/// Why routes that list or sign out a user's sessions cannot serve: the provider keeps no
/// owner index (its capabilities say so, so nothing is asked of it).
pub(crate) fn missing_owner_index(session: &Session) -> Option<String> {
    let store = session.manager().store();
    (!store.capabilities().owner_index).then(|| {
        format!(
            "the `{}` session provider keeps no owner index",
            store.provider()
        )
    })
}

/// `GET /devices`: `{"devices": [...]}`, the signed-in user's sessions most recently seen
/// first, each with `handle`, `created`, `last_seen` (ms since the epoch), `user_agent`,
/// `ip` (null unless device metadata is on), `persistent` and `current`; 401 when not
/// signed in, 501 without an owner index.
pub async fn devices(session: &Session) -> Answer {
    if let Some(reply) = without_owner_index(session) {
        return Ok(reply);
    }
    if session.owner().await?.is_none() {
        return Ok(Reply::empty(401));
    }
    let devices = session.devices().await?;
    Ok(Reply::json(&serde_json::json!({ "devices": devices })))
}

/// `POST /devices/revoke` (form `handle=`): `{"revoked": true|false}`; revoking the
/// session's own handle signs it out (its cookie is removed). 400 for a malformed handle,
/// 401 when not signed in, 501 without an owner index.
pub async fn revoke_device(session: &Session, form: &Revoke) -> Answer {
    if let Some(reply) = without_owner_index(session) {
        return Ok(reply);
    }
    let Ok(handle) = form.handle.parse::<DeviceHandle>() else {
        return Ok(Reply::text(400, "malformed device handle"));
    };
    if session.owner().await?.is_none() {
        return Ok(Reply::empty(401));
    }
    let revoked = session.revoke_device(&handle).await?;
    Ok(Reply::json(&serde_json::json!({ "revoked": revoked })))
}

/// `GET /public`, a public page served under the `anonymous` outage policy: greets the
/// signed-in user by name, anyone else (and everyone while the store is down) as a visitor.
pub async fn public_page(session: &Session) -> Answer {
    let user = session.get::<String>("uid").await?;
    Ok(Reply::text(
        200,
        format!("hello, {}", user.as_deref().unwrap_or("visitor")),
    ))
}

/// `POST /public`: a write on the public page, 204; while the store is down it is refused
/// ([`session_core::Error::Degraded`], 503) and nothing is stored.
pub async fn public_visit(session: &Session) -> Answer {
    session.set("visited", "yes").await?;
    Ok(Reply::empty(204))
}

/// `GET /stats`: `{"count": N}`, with `null` when the provider's capabilities say it cannot
/// count (memcached, couchbase): a made-up number would be worse than none.
pub async fn stats(manager: &Manager) -> Answer {
    let count = if manager.store().capabilities().count {
        Some(manager.count().await?)
    } else {
        None
    };
    Ok(Reply::json(&serde_json::json!({ "count": count })))
}

/// `GET /metrics`: the Prometheus text of the recorder [`crate::install_prometheus`]
/// installed, or 404 when none was installed in this process.
pub fn metrics() -> Reply {
    match crate::prometheus_text() {
        Some(text) => Reply {
            content_type: Some(PROMETHEUS),
            body: text,
            ..Reply::empty(200)
        },
        None => Reply::text(404, "no metrics recorder is installed"),
    }
}

/// `GET /signup`, Macaron's flash example: queues four messages for the next page and renders
/// the ones queued before.
pub async fn signup(flash: &Flash) -> Answer {
    flash.success("yes!!!").await?;
    flash.error("opps...").await?;
    flash.info("aha?!").await?;
    flash.warning("Just be careful.").await?;
    render(flash).await
}

/// `GET /flash`: renders the flashes without adding any (and so consumes them).
pub async fn show_flash(flash: &Flash) -> Answer {
    render(flash).await
}

/// `POST /flash`: adds one message, then renders the page.
pub async fn add_flash(flash: &Flash, form: &NewFlash) -> Answer {
    let Ok(level) = form.level.parse::<Level>() else {
        return Ok(Reply::text(400, "unknown level"));
    };
    let show = if form.now { Show::Now } else { Show::Next };
    flash.add(level, form.text.as_str(), show).await?;
    render(flash).await
}

async fn render(flash: &Flash) -> Answer {
    let view = flash.view().await?;
    Ok(Reply::html(crate::render_signup(&view)))
}

// ---------------------------------------------------------------------------------------
// Remember-me (`POST /login/remember`) and the `both` transport (`/both/...` routes, which
// reuse `login`, `whoami` and `logout`): the routes the `remember` and `both` HTTP scenarios
// drive.

/// The idle lifetime `POST /login/remember` asks for when the form names none: 14 days,
/// the usual "remember me" (core cuts it to `max_persistent_lifetime`).
pub const REMEMBER_IDLE_SECS: u64 = 14 * 24 * 3600;

/// The form of `POST /login/remember`.
#[derive(Debug, Clone, Deserialize)]
pub struct RememberedLogin {
    /// The user to log in; must not be empty.
    pub user: String,
    /// The session's idle lifetime in seconds, [`REMEMBER_IDLE_SECS`] when absent. A
    /// client may ask for any value: core bounds it (at least a second, at most
    /// `max_persistent_lifetime`), which is what the scenario checks.
    pub idle: Option<u64>,
}

/// `POST /login/remember`: [`login`] with "remember me" ticked, so the session gets a
/// lifetime of its own and a persistent cookie (see `session_core::lifetime`).
pub async fn login_remembered(session: &Session, form: &RememberedLogin) -> Answer {
    let plain = Login {
        user: form.user.clone(),
    };
    let reply = login(session, &plain).await?;
    if reply.status != 204 {
        return Ok(reply);
    }
    let idle = std::time::Duration::from_secs(form.idle.unwrap_or(REMEMBER_IDLE_SECS));
    session.set_persistent(idle).await?;
    Ok(reply)
}
