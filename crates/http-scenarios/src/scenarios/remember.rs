//! Remember-me over HTTP (`POST /login/remember`): the session's own lifetime shows in its
//! cookie, is bounded by the configured maximum, survives the next login, and is what
//! expires the session.

use std::time::Duration;

use http::{Method, StatusCode};

use super::{Ctx, Failure, ScenarioFuture, ensure};
use crate::checks;
use crate::client::{Body, Reply};

/// The idle lifetime the short-lived remembered session asks for, in seconds: long enough
/// for a few requests on a loaded machine, short enough to wait out.
const SHORT_IDLE_SECS: u64 = 3;

/// `POST /login/remember` as `user` asking for `idle` seconds, from session `sid` if any.
async fn remembered_login(
    ctx: &Ctx,
    user: &str,
    idle: u64,
    sid: Option<&str>,
) -> Result<Reply, Failure> {
    let cookie = sid.map(|s| ctx.cookie(s));
    let reply = ctx
        .send(
            Method::POST,
            "/login/remember",
            cookie.as_deref(),
            Body::Form(format!("user={user}&idle={idle}")),
        )
        .await?;
    reply.expect_status(StatusCode::NO_CONTENT)?;
    Ok(reply)
}

/// Fails unless `max_age` (what `reply`'s cookie says) is within `[low, high]` seconds.
fn expect_max_age(reply: &Reply, max_age: i64, low: i64, high: i64) -> Result<(), Failure> {
    ensure((low..=high).contains(&max_age), || {
        format!(
            "{}: expected a cookie Max-Age between {low} and {high} s, got {max_age}",
            reply.request
        )
    })
}

/// The seconds of `d`, for comparing with a cookie's `Max-Age`.
fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// A plain login's cookie has no `Max-Age` or `Expires`; a remembered login's has one, cut
/// to the configured maximum when more is asked for. A second (plain) login from a
/// remembered session regenerates the ID and keeps the session persistent. The remembered
/// session lives by its own idle lifetime: a write slides it, and once that lifetime passes
/// without use it is gone, while a plain session from the same moment (the manager's idle
/// lifetime) and a long remembered one still answer.
pub(crate) fn lifetime_of_its_own(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let user = ctx.user("remembered");
        let max = secs(ctx.target.max_persistent_lifetime);

        // `ctx.login` checks for a browser-session cookie: no Max-Age, no Expires.
        let plain = ctx.login(&user, None).await?;

        // Asking for ten times the maximum gets the maximum (less the time the request took).
        let reply = remembered_login(ctx, &user, 10 * max.unsigned_abs(), None).await?;
        let (long, max_age) = checks::persistent_cookie(&ctx.target, &reply)?;
        expect_max_age(&reply, max_age, (max - 5).max(1), max)?;
        ctx.get("/whoami", Some(&long)).await?.expect_text(&user)?;

        let idle = i64::try_from(SHORT_IDLE_SECS).unwrap_or(i64::MAX);
        let reply = remembered_login(ctx, &user, SHORT_IDLE_SECS, None).await?;
        let (short, max_age) = checks::persistent_cookie(&ctx.target, &reply)?;
        expect_max_age(&reply, max_age, 1, idle)?;

        // A login is a regenerate: new ID, old one dead, and the lifetime moves along.
        let reply = ctx.login_request(&user, Some(&short)).await?;
        reply.expect_status(StatusCode::NO_CONTENT)?;
        let (renewed, max_age) = checks::persistent_cookie(&ctx.target, &reply)?;
        expect_max_age(&reply, max_age, 1, idle)?;
        ensure(renewed != short, || {
            "POST /login from a remembered session kept its ID".into()
        })?;
        ctx.get("/whoami", Some(&short))
            .await?
            .expect_status(StatusCode::UNAUTHORIZED)?;

        // A write half-way through the idle lifetime moves the expiry, and the cookie's
        // Max-Age with it.
        tokio::time::sleep(Duration::from_millis(SHORT_IDLE_SECS * 500)).await;
        let reply = ctx.put("note", "kept", Some(&renewed)).await?;
        reply.expect_status(StatusCode::NO_CONTENT)?;
        let (same, max_age) = checks::persistent_cookie(&ctx.target, &reply)?;
        ensure(same == renewed, || {
            format!("PUT /session/note: a write changed the session ID to {same}")
        })?;
        expect_max_age(&reply, max_age, 1, idle)?;
        // Past the idle lifetime counted from the login, alive: counted from the write.
        tokio::time::sleep(Duration::from_millis(SHORT_IDLE_SECS * 700)).await;
        ctx.get("/whoami", Some(&renewed))
            .await?
            .expect_text(&user)?;

        // Unused for longer than its idle lifetime (a read does not slide it by less than
        // the touch interval): gone, and not replaced by a cookie.
        tokio::time::sleep(Duration::from_millis(SHORT_IDLE_SECS * 1000 + 500)).await;
        let expired = ctx.get("/whoami", Some(&renewed)).await?;
        expired.expect_status(StatusCode::UNAUTHORIZED)?;
        checks::no_session_cookie(&ctx.target, &expired)?;
        ctx.get("/session/note", Some(&renewed))
            .await?
            .expect_status(StatusCode::NOT_FOUND)?;

        // The others live by their own lifetimes, unaffected.
        ctx.get("/whoami", Some(&plain)).await?.expect_text(&user)?;
        ctx.get("/whoami", Some(&long)).await?.expect_text(&user)?;
        Ok(())
    })
}
