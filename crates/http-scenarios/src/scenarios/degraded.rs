//! Degraded mode: the demos serve `/public` under the `anonymous` outage policy and every
//! other route under `fail`. While the store is down the public page keeps answering 200
//! (as to a visitor), a write on it is refused, the other pages answer 503, and no reply
//! carries a `Set-Cookie`; once the store is back the same cookie finds its session intact.

use http::StatusCode;

use super::outage::Recover;
use super::{Ctx, Failure, ScenarioFuture, ensure};
use crate::checks;

/// How many times the public page is requested during the outage, with and without the
/// session cookie: an anonymous page must keep serving, not answer once by luck.
const PUBLIC_HITS: usize = 10;

/// Core's body for a write refused during an outage (`Error::Degraded`), which tells it
/// apart from a route answering 503 because it runs under `fail`.
const REFUSED_WRITE: &str = "session store unavailable: changes not saved";

/// `/public` answers through the outage; a write there is refused; `fail` routes answer
/// 503; nothing sets or removes a cookie; the session is intact afterwards.
pub(crate) fn anonymous_public_page(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let Some(switch) = &ctx.target.outage else {
            return Err(Failure::NotRun("the target has no outage switch".into()));
        };
        let user = ctx.user("ada");
        let sid = ctx.login(&user, None).await?;
        ctx.put("keep", "safe", Some(&sid))
            .await?
            .expect_status(StatusCode::NO_CONTENT)?;
        let greeting = format!("hello, {user}");
        let reply = ctx.get("/public", Some(&sid)).await?;
        reply.expect_text(&greeting)?;
        checks::no_session_cookie(&ctx.target, &reply)?;

        switch(true);
        let recover = Recover(switch);
        for _ in 0..PUBLIC_HITS {
            for sid in [Some(sid.as_str()), None] {
                let reply = ctx.get("/public", sid).await?;
                reply.expect_text("hello, visitor")?;
                checks::no_set_cookie_at_all(&reply)?;
            }
        }
        // The signed-in client's write meets the empty stand-in and is refused.
        let reply = ctx.post("/public", Some(&sid)).await?;
        reply.expect_status(StatusCode::SERVICE_UNAVAILABLE)?;
        ensure(reply.body == REFUSED_WRITE, || {
            format!(
                "POST /public during the outage: expected the refused-write body {REFUSED_WRITE:?}, got {:?}",
                reply.body
            )
        })?;
        checks::no_set_cookie_at_all(&reply)?;
        // A visitor without a cookie read nothing, so its new session fails at commit: 503,
        // and no cookie for a session that was never stored.
        let reply = ctx.post("/public", None).await?;
        reply.expect_status(StatusCode::SERVICE_UNAVAILABLE)?;
        checks::no_set_cookie_at_all(&reply)?;
        // Routes under `fail` still fail.
        for path in ["/whoami", "/session/keep"] {
            let reply = ctx.get(path, Some(&sid)).await?;
            reply.expect_status(StatusCode::SERVICE_UNAVAILABLE)?;
            checks::no_set_cookie_at_all(&reply)?;
        }
        drop(recover);

        let reply = ctx.get("/public", Some(&sid)).await?;
        reply.expect_text(&greeting)?;
        checks::no_session_cookie(&ctx.target, &reply)?;
        ctx.get("/session/keep", Some(&sid))
            .await?
            .expect_text("safe")?;
        ctx.get("/whoami", Some(&sid)).await?.expect_text(&user)?;
        // The refused write left nothing behind.
        let reply = ctx.get("/session/visited", Some(&sid)).await?;
        ensure(reply.status == StatusCode::NOT_FOUND, || {
            format!(
                "GET /session/visited after the outage: expected 404, got {}",
                reply.status
            )
        })?;
        // And writes on the public page work again.
        ctx.post("/public", Some(&sid))
            .await?
            .expect_status(StatusCode::NO_CONTENT)?;
        ctx.get("/session/visited", Some(&sid))
            .await?
            .expect_text("yes")?;
        Ok(())
    })
}
