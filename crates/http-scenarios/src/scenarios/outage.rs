//! A backend outage is not "unknown session": the client gets 503, keeps its cookie, and
//! finds its data (and its queued flash messages) again once the backend is back.

use http::{Method, StatusCode};

use super::{Ctx, Failure, ScenarioFuture, ensure};
use crate::checks;
use crate::client::Body;

/// Turns the outage back off when dropped, whatever the scenario did.
pub(super) struct Recover<'a>(pub(super) &'a crate::OutageSwitch);

impl Drop for Recover<'_> {
    fn drop(&mut self) {
        (self.0)(false);
    }
}

/// With the provider failing, every request that needs the session answers 503 without any
/// `Set-Cookie`; after recovery the same cookie works with its data intact.
pub(crate) fn outage(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let Some(switch) = &ctx.target.outage else {
            return Err(Failure::NotRun("the target has no outage switch".into()));
        };
        let user = ctx.user("grace");
        let sid = ctx.login(&user, None).await?;
        ctx.put("keep", "safe", Some(&sid))
            .await?
            .expect_status(StatusCode::NO_CONTENT)?;
        // Flash messages queued before the outage must survive it too.
        let queued = ctx.get("/signup", Some(&sid)).await?;
        queued.expect_status(StatusCode::OK)?;
        checks::no_session_cookie(&ctx.target, &queued)?;
        let cookie = ctx.cookie(&sid);

        switch(true);
        let recover = Recover(switch);
        let requests: Vec<(Method, &str, Body, Option<&str>)> = vec![
            (Method::GET, "/session/keep", Body::Empty, Some(&cookie)),
            (
                Method::PUT,
                "/session/keep",
                Body::Text("lost".into()),
                Some(&cookie),
            ),
            (Method::PUT, "/session/new", Body::Text("lost".into()), None),
            (Method::DELETE, "/session/keep", Body::Empty, Some(&cookie)),
            (Method::GET, "/whoami", Body::Empty, Some(&cookie)),
            (Method::GET, "/", Body::Empty, Some(&cookie)),
            (
                Method::POST,
                "/login",
                Body::Form(format!("user={user}")),
                Some(&cookie),
            ),
            (Method::POST, "/logout", Body::Empty, Some(&cookie)),
            (
                Method::POST,
                "/logout-everywhere",
                Body::Empty,
                Some(&cookie),
            ),
            (Method::GET, "/flash", Body::Empty, Some(&cookie)),
            (Method::GET, "/signup", Body::Empty, Some(&cookie)),
            (Method::GET, "/signup", Body::Empty, None),
        ];
        for (method, path, body, cookie) in requests {
            let reply = ctx.send(method, path, cookie, body).await?;
            reply.expect_status(StatusCode::SERVICE_UNAVAILABLE)?;
            // Not even a removal or a fresh ID: the client's cookie must survive the outage.
            checks::no_set_cookie_at_all(&reply)?;
        }
        drop(recover);

        let reply = ctx.get("/session/keep", Some(&sid)).await?;
        reply.expect_text("safe")?;
        checks::no_session_cookie(&ctx.target, &reply)?;
        ctx.get("/whoami", Some(&sid)).await?.expect_text(&user)?;
        let flashes = ctx.get("/flash", Some(&sid)).await?;
        flashes.expect_status(StatusCode::OK)?;
        ensure(flashes.body.contains("<h2>yes!!!</h2>"), || {
            format!(
                "flash messages queued before the outage were lost: {:?}",
                flashes.body
            )
        })?;
        // Nothing attempted during the outage took effect.
        let reply = ctx.get("/session/new", Some(&sid)).await?;
        ensure(reply.status == StatusCode::NOT_FOUND, || {
            format!(
                "GET /session/new after the outage: expected 404, got {}",
                reply.status
            )
        })
    })
}
