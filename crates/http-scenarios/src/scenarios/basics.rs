//! The seed's example, laziness, and the key/value round trip.

use http::header::COOKIE;
use http::{Method, StatusCode};

use super::{Ctx, Failure, ScenarioFuture, ensure};
use crate::checks;
use crate::client::Body;

/// `GET /` answers Macaron's seed string, creates the session once, and then stays quiet.
pub(crate) fn index(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let first = ctx.get("/", None).await?;
        first.expect_text("session middleware")?;
        let sid = checks::new_cookie(&ctx.target, &first)?;
        let again = ctx.get("/", Some(&sid)).await?;
        again.expect_text("session middleware")?;
        // Setting the value it already holds is not a change: no new cookie.
        checks::no_session_cookie(&ctx.target, &again)?;
        Ok(())
    })
}

/// A request that only reads, or does not touch the session, neither stores nor sets a
/// cookie.
pub(crate) fn no_cookie_until_data(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let reply = ctx.get("/session/x", None).await?;
        reply.expect_status(StatusCode::NOT_FOUND)?;
        checks::no_session_cookie(&ctx.target, &reply)?;
        let reply = ctx.get("/stats", None).await?;
        reply.expect_status(StatusCode::OK)?;
        checks::no_session_cookie(&ctx.target, &reply)?;
        let reply = ctx.get("/whoami", None).await?;
        reply.expect_status(StatusCode::UNAUTHORIZED)?;
        checks::no_session_cookie(&ctx.target, &reply)?;
        // Deleting from a session that does not exist creates nothing either.
        let reply = ctx.delete("x", None).await?;
        reply.expect_status(StatusCode::NO_CONTENT)?;
        checks::no_session_cookie(&ctx.target, &reply)?;
        Ok(())
    })
}

/// Values written in one request are read back in the next; deleting one leaves the others.
pub(crate) fn round_trip(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let sid = ctx.new_session("color", "blue").await?;
        let sid = Some(sid.as_str());
        ctx.get("/session/color", sid).await?.expect_text("blue")?;

        let reply = ctx.put("greeting", "héllo wörld, ✓", sid).await?;
        reply.expect_status(StatusCode::NO_CONTENT)?;
        checks::no_session_cookie(&ctx.target, &reply)?;
        let reply = ctx.get("/session/greeting", sid).await?;
        reply.expect_text("héllo wörld, ✓")?;
        checks::no_session_cookie(&ctx.target, &reply)?;

        // Overwrite.
        ctx.put("color", "green", sid)
            .await?
            .expect_status(StatusCode::NO_CONTENT)?;
        ctx.get("/session/color", sid).await?.expect_text("green")?;

        let reply = ctx.delete("color", sid).await?;
        reply.expect_status(StatusCode::NO_CONTENT)?;
        checks::no_session_cookie(&ctx.target, &reply)?;
        ctx.get("/session/color", sid)
            .await?
            .expect_status(StatusCode::NOT_FOUND)?;
        ctx.get("/session/greeting", sid)
            .await?
            .expect_text("héllo wörld, ✓")?;
        Ok(())
    })
}

/// Deleting the last key deletes the session and removes the cookie.
pub(crate) fn emptied_session(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let sid = ctx.new_session("only", "one").await?;
        let reply = ctx.delete("only", Some(&sid)).await?;
        reply.expect_status(StatusCode::NO_CONTENT)?;
        checks::removal_cookie(&ctx.target, &reply)?;
        ctx.get("/session/only", Some(&sid))
            .await?
            .expect_status(StatusCode::NOT_FOUND)?;
        // The old ID is gone for good: writing again gets a new one.
        let reply = ctx.put("only", "two", Some(&sid)).await?;
        reply.expect_status(StatusCode::NO_CONTENT)?;
        let new = checks::new_cookie(&ctx.target, &reply)?;
        ensure(new != sid, || {
            "a write after the session was emptied reused the deleted ID".into()
        })
    })
}

/// A client that sends the whole `Set-Cookie` line back (Macaron's own tests did) is
/// understood: attributes are skipped, the ID is found.
pub(crate) fn replayed_set_cookie(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let reply = ctx.put("replay", "yes", None).await?;
        reply.expect_status(StatusCode::NO_CONTENT)?;
        checks::new_cookie(&ctx.target, &reply)?;
        let lines = reply.session_set_cookies(&ctx.target.cookie_name);
        let line = lines.first().cloned().unwrap_or_default();
        let reply = ctx
            .send(Method::GET, "/session/replay", Some(&line), Body::Empty)
            .await?;
        reply.expect_text("yes").map_err(|e| match e {
            Failure::Failed(m) => Failure::Failed(format!("{m} ({COOKIE}: {line:?})")),
            other => other,
        })?;
        checks::no_session_cookie(&ctx.target, &reply)?;
        Ok(())
    })
}

/// `GET /stats` answers `{"count": N}` or `{"count": null}` and never sets a cookie; a count
/// follows the sessions one by one.
pub(crate) fn stats(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let sid = ctx.new_session("counted", "1").await?;
        let Some(before) = count(ctx, &sid).await? else {
            return Ok(());
        };
        ensure(before >= 1, || {
            format!("GET /stats: counted {before} sessions with one live")
        })?;
        // Scenarios run one at a time, so nothing else adds or removes a session meanwhile.
        let other = ctx.new_session("counted", "2").await?;
        let with_other = count(ctx, &sid).await?;
        ensure(with_other == Some(before + 1), || {
            format!("GET /stats: {before} sessions, one more created, then {with_other:?}")
        })?;
        let reply = ctx.delete("counted", Some(&other)).await?;
        reply.expect_status(StatusCode::NO_CONTENT)?;
        checks::removal_cookie(&ctx.target, &reply)?;
        let without = count(ctx, &sid).await?;
        ensure(without == Some(before), || {
            format!("GET /stats: {before} sessions, one more created and removed, then {without:?}")
        })
    })
}

/// `GET /stats` (from session `sid`): the count, `None` for `null`.
async fn count(ctx: &Ctx, sid: &str) -> Result<Option<u64>, Failure> {
    let reply = ctx.get("/stats", Some(sid)).await?;
    reply.expect_status(StatusCode::OK)?;
    checks::no_session_cookie(&ctx.target, &reply)?;
    let json = reply.json()?;
    match json.get("count") {
        Some(serde_json::Value::Null) => Ok(None),
        Some(n) if n.as_u64().is_some() => Ok(n.as_u64()),
        _ => Err(Failure::failed(format!(
            "GET /stats: expected {{\"count\": N}} or {{\"count\": null}}, got {json}"
        ))),
    }
}
