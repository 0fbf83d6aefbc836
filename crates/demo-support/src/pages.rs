//! The demo's page set under `/app`: sign in (with "remember me"), who am I, the flash
//! messages of the last action, the user's devices with a revoke button each, "sign out
//! everywhere else" and "sign out". Server-rendered with minijinja, no JavaScript: every
//! action is a plain form POST answered with `303 See Other` to `GET /app`, so a reload
//! never repeats it, and its outcome travels to that page as a flash message (shown once).
//!
//! Every form carries the session's CSRF token in the `csrf_token` field; the demos put the
//! POST routes behind their adapter's CSRF guard, which answers 403 to a POST without it.
//! All text is escaped by minijinja's autoescaping (the template's name ends in `.html`):
//! user names, user agents and flash texts are data, never markup.
//!
//! | route | form | what it does |
//! |---|---|---|
//! | `GET /app` | | the page |
//! | `POST /app/login` | `user`, `remember` | [`sign_in`] |
//! | `POST /app/logout` | | [`sign_out`] |
//! | `POST /app/logout-everywhere` | | [`sign_out_everywhere`] |
//! | `POST /app/devices/revoke` | `handle` | [`revoke`] |

use std::time::Duration;

use serde::{Deserialize, Serialize};
use session_core::{Device, DeviceHandle, Error, Millis};
use session_flash::{Flash, FlashView};

use crate::contract::{Answer, Reply, Revoke};

/// The page's minijinja template.
pub const APP_TEMPLATE: &str = include_str!("../templates/app.html");

/// Where every form of the page set sends the browser back to.
pub const APP_PATH: &str = "/app";

/// How long a remembered session lives without use (cut to the manager's
/// `max_persistent_lifetime`, 30 days by default).
pub const REMEMBER_FOR: Duration = Duration::from_secs(14 * 24 * 3600);

/// The session key holding the signed-in user, shared with the contract's `POST /login`.
const USER_KEY: &str = "uid";

/// The form of `POST /app/login`.
#[derive(Debug, Clone, Deserialize)]
pub struct SignIn {
    /// The user to sign in as.
    pub user: String,
    /// Present (`on`) when "remember me" is ticked; browsers leave an unticked box out.
    #[serde(default)]
    pub remember: Option<String>,
}

/// What the template sees.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AppView {
    /// The signed-in user, or `None` for the sign-in form.
    pub user: Option<String>,
    /// Whether this session has a lifetime of its own ("remember me").
    pub remembered: bool,
    /// The session's CSRF token, put in every form.
    pub csrf: String,
    /// The flash messages to show on this page.
    #[serde(rename = "Flash")]
    pub flash: FlashView,
    /// The user's devices, most recently seen first, or `None` when they cannot be listed
    /// ([`AppView::devices_note`] says why).
    pub devices: Option<Vec<Device>>,
    /// Why there is no device list.
    pub devices_note: String,
}

/// Renders the page for `view`, escaping every value; times (ms since the epoch) are shown
/// through the template's `utc` filter.
pub fn render_app(view: &AppView) -> Result<String, minijinja::Error> {
    let mut env = minijinja::Environment::new();
    env.add_filter("utc", utc);
    // The `.html` name is what turns minijinja's autoescaping on.
    env.render_named_str("app.html", APP_TEMPLATE, view)
}

/// `GET /app`: the page, for the signed-in user or with the sign-in form. Reading the flash
/// consumes it, so a reload no longer shows it.
pub async fn app(flash: &Flash) -> Answer {
    let session = flash.session();
    let user = session.get::<String>(USER_KEY).await?;
    let mut view = AppView {
        remembered: user.is_some() && session.lifetime().await?.is_some(),
        user,
        // Created for a visitor too: the sign-in form needs it (login CSRF).
        csrf: session.csrf_token().await?,
        flash: flash.view().await?,
        ..AppView::default()
    };
    if view.user.is_some() {
        match owner_index_missing(flash) {
            Some(note) => view.devices_note = note,
            None => view.devices = Some(session.devices().await?),
        }
    }
    Ok(Reply::html(render_app(&view)))
}

/// `POST /app/login`: binds the session to the user, moves it to a new ID (defeating session
/// fixation, and giving it a new CSRF token), and makes it a remembered session when
/// "remember me" was ticked, a browser-session one otherwise.
pub async fn sign_in(flash: &Flash, form: &SignIn) -> Answer {
    let session = flash.session();
    let user = form.user.trim();
    // Bound before `regenerate`, so a refused login leaves the visitor's session as it was.
    if let Some(refusal) = refusal(session.set_owner(Some(user)).await)? {
        flash.error(refusal).await?;
        return Ok(Reply::see_other(APP_PATH));
    }
    session.regenerate().await?;
    session.set(USER_KEY, user).await?;
    let remember = form.remember.is_some();
    if remember {
        session.set_persistent(REMEMBER_FOR).await?;
    } else {
        session.set_lifetime(None).await?;
    }
    flash
        .success(if remember {
            format!("Signed in as {user}; this device will remember you.")
        } else {
            format!("Signed in as {user}.")
        })
        .await?;
    Ok(Reply::see_other(APP_PATH))
}

/// What to tell the user when binding the session to them was refused for a reason of
/// theirs (core's owner rules, the per-user cap under `refuse`); other errors pass on.
fn refusal(bound: session_core::Result<()>) -> session_core::Result<Option<&'static str>> {
    match bound {
        Ok(()) => Ok(None),
        Err(Error::Encode { .. }) => Ok(Some(
            "That user name cannot be used: 1 to 255 bytes, no control characters.",
        )),
        Err(Error::SessionLimit { .. }) => Ok(Some(
            "Signed in on too many devices already: sign out on one of them first.",
        )),
        Err(e) => Err(e),
    }
}

/// `POST /app/logout`: destroys the session; the flash that says so lives in a new one.
pub async fn sign_out(flash: &Flash) -> Answer {
    flash.session().destroy().await?;
    flash.info("Signed out.").await?;
    Ok(Reply::see_other(APP_PATH))
}

/// `POST /app/logout-everywhere`: destroys the user's other sessions, this one stays.
pub async fn sign_out_everywhere(flash: &Flash) -> Answer {
    if let Some(reply) = unless_signed_in(flash).await? {
        return Ok(reply);
    }
    if let Some(note) = owner_index_missing(flash) {
        flash.warning(note).await?;
        return Ok(Reply::see_other(APP_PATH));
    }
    let destroyed = flash.session().destroy_other_sessions().await?;
    flash
        .success(match destroyed {
            1 => "Signed out on 1 other device.".to_owned(),
            n => format!("Signed out on {n} other devices."),
        })
        .await?;
    Ok(Reply::see_other(APP_PATH))
}

/// `POST /app/devices/revoke` (the form of `POST /devices/revoke`): signs one of the user's other devices out. A handle that is
/// not one (a forged form) is a 400; one that names no live session of this user (already
/// signed out) is told on the page.
pub async fn revoke(flash: &Flash, form: &Revoke) -> Answer {
    if let Some(reply) = unless_signed_in(flash).await? {
        return Ok(reply);
    }
    if let Some(note) = owner_index_missing(flash) {
        flash.warning(note).await?;
        return Ok(Reply::see_other(APP_PATH));
    }
    let Ok(handle) = form.handle.parse::<DeviceHandle>() else {
        return Ok(Reply::text(400, "malformed device handle"));
    };
    let revoked = flash.session().revoke_device(&handle).await?;
    if revoked {
        flash.success("That device is signed out.").await?;
    } else {
        flash.warning("That device was already signed out.").await?;
    }
    Ok(Reply::see_other(APP_PATH))
}

/// `Some(303)` with an error flash when nobody is signed in.
async fn unless_signed_in(flash: &Flash) -> session_core::Result<Option<Reply>> {
    if flash.session().get::<String>(USER_KEY).await?.is_some() {
        return Ok(None);
    }
    flash.error("Sign in first.").await?;
    Ok(Some(Reply::see_other(APP_PATH)))
}

/// Why the user's sessions cannot be listed or signed out: the provider keeps no owner
/// index (its capabilities say so, so nothing is asked of it).
fn owner_index_missing(flash: &Flash) -> Option<String> {
    crate::contract::missing_owner_index(flash.session())
        .map(|why| format!("Your devices cannot be listed or signed out from here: {why}."))
}

/// `ms` since the Unix epoch as `YYYY-MM-DD HH:MM:SS UTC`.
fn utc(ms: Millis) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(FORMAT).ok())
        .unwrap_or_else(|| format!("{ms} ms after 1970"))
}

#[cfg(test)]
mod tests {
    use session_flash::{Level, Message};

    use super::*;

    const HERE: &str = "AAAAAAAAAAAAAAAAAAAAAA";
    const THERE: &str = "AQAAAAAAAAAAAAAAAAAAAA";

    fn device(handle: &str, current: bool) -> Device {
        Device {
            handle: handle.parse().unwrap(),
            created: 0,
            last_seen: 1_700_000_000_123,
            user_agent: Some("<b>Browser</b>".into()),
            ip: None,
            persistent: !current,
            current,
        }
    }

    #[test]
    fn a_visitor_gets_the_sign_in_form_with_the_token() {
        let html = render_app(&AppView {
            csrf: "tok-123".into(),
            ..AppView::default()
        })
        .unwrap();
        assert!(html.contains(r#"action="/app/login""#), "{html}");
        assert!(
            html.contains(r#"name="csrf_token" value="tok-123""#),
            "{html}"
        );
        assert!(html.contains(r#"name="remember""#), "{html}");
        assert!(!html.contains("/app/logout"), "{html}");
    }

    #[test]
    fn every_form_of_a_signed_in_page_carries_the_token() {
        let html = render_app(&AppView {
            user: Some("ada".into()),
            csrf: "tok-9".into(),
            devices: Some(vec![device(HERE, true), device(THERE, false)]),
            ..AppView::default()
        })
        .unwrap();
        let forms = html.matches("<form ").count();
        assert_eq!(
            forms, 3,
            "sign out, one revoke, sign out everywhere: {html}"
        );
        assert_eq!(
            html.matches(r#"name="csrf_token" value="tok-9""#).count(),
            forms,
            "{html}"
        );
        assert_eq!(html.matches(r#"class="revoke""#).count(), 1, "{html}");
        assert!(
            html.contains(&format!(r#"name="handle" value="{THERE}""#)),
            "the other device is revocable: {html}"
        );
        assert!(
            !html.contains(&format!(r#"name="handle" value="{HERE}""#)),
            "{html}"
        );
        assert!(html.contains("this device"), "{html}");
        assert!(html.contains("1970-01-01 00:00:00 UTC"), "{html}");
        assert!(html.contains("2023-11-14 22:13:20 UTC"), "{html}");
    }

    #[test]
    fn user_names_agents_and_messages_are_escaped() {
        let html = render_app(&AppView {
            user: Some("<script>x</script>".into()),
            csrf: "\"><b>".into(),
            flash: FlashView::from_messages(vec![Message::new(Level::Error, "<i>no</i>")]),
            devices: Some(vec![device(THERE, false)]),
            ..AppView::default()
        })
        .unwrap();
        for raw in ["<script>", "<b>", "<i>", "\"><"] {
            assert!(!html.contains(raw), "{raw} unescaped in {html}");
        }
        assert!(html.contains("&lt;script&gt;x"), "{html}");
        assert!(html.contains("&lt;b&gt;Browser"), "{html}");
        assert!(
            html.contains(r#"<p class="flash error" role="status">&lt;i&gt;no"#),
            "{html}"
        );
    }

    #[test]
    fn without_a_device_list_the_note_says_why() {
        let html = render_app(&AppView {
            user: Some("ada".into()),
            devices_note: "no index here".into(),
            ..AppView::default()
        })
        .unwrap();
        assert!(html.contains("no index here"), "{html}");
        assert!(!html.contains("sign-out-everywhere"), "{html}");
    }

    #[test]
    fn times_are_utc_calendar_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_825_600_999), "2000-02-29 12:00:00 UTC");
    }
}
