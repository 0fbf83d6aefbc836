//! Every cookie the server sends carries the configured attributes: when the session is
//! created, when its ID is regenerated, and when it is removed; and the session cookie is
//! found wherever the client puts it.

use http::{Method, StatusCode};

use super::{Ctx, ScenarioFuture, ensure};
use crate::checks;
use crate::client::Body;

/// The first write creates the session and its cookie.
pub(crate) fn on_create(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let reply = ctx.put("created", "yes", None).await?;
        reply.expect_status(StatusCode::NO_CONTENT)?;
        checks::new_cookie(&ctx.target, &reply)?;
        Ok(())
    })
}

/// Login rewrites the cookie with a new ID and every attribute.
pub(crate) fn on_regenerate(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let before = ctx.new_session("pre", "login").await?;
        let after = ctx.login(&ctx.user("carol"), Some(&before)).await?;
        ensure(after != before, || {
            format!("POST /login kept the session ID {before:?}")
        })
    })
}

/// Logout sends a removal cookie with the same attributes as the cookie it removes.
pub(crate) fn on_destroy(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let sid = ctx.login(&ctx.user("dave"), None).await?;
        let reply = ctx.post("/logout", Some(&sid)).await?;
        reply.expect_status(StatusCode::NO_CONTENT)?;
        checks::removal_cookie(&ctx.target, &reply)
    })
}

/// HTTP/2 clients may split cookies over several `Cookie` lines: the session cookie is found
/// in any of them, among other cookies.
pub(crate) fn split_header_lines(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let sid = ctx.new_session("split", "found").await?;
        let second = format!("other=1; {}", ctx.cookie(&sid));
        let reply = ctx
            .send_lines(
                Method::GET,
                "/session/split",
                &["theme=dark", &second],
                Body::Empty,
            )
            .await?;
        reply.expect_text("found")?;
        checks::no_session_cookie(&ctx.target, &reply)
    })
}
