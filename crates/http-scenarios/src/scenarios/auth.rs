//! Login, logout and "log out everywhere": the session fixation and session revocation
//! guarantees, seen from the client.

use http::StatusCode;

use super::{Ctx, Failure, ScenarioFuture, ensure};
use crate::checks;

/// `GET /whoami` answers 401 for a client without a session and creates nothing.
pub(crate) fn anonymous(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let reply = ctx.get("/whoami", None).await?;
        reply.expect_status(StatusCode::UNAUTHORIZED)?;
        checks::no_session_cookie(&ctx.target, &reply)?;
        // A session without a login is not a login either.
        let sid = ctx.new_session("anon", "1").await?;
        ctx.get("/whoami", Some(&sid))
            .await?
            .expect_status(StatusCode::UNAUTHORIZED)?;
        Ok(())
    })
}

/// Login moves the session to a new ID: the pre-login ID (which an attacker may have
/// planted) is dead, the new one carries the login and the pre-login data.
pub(crate) fn login_regenerates(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let user = ctx.user("alice");
        let before = ctx.new_session("cart", "3 apples").await?;
        let after = ctx.login(&user, Some(&before)).await?;
        ensure(after != before, || {
            "POST /login kept the pre-login session ID".into()
        })?;

        ctx.get("/whoami", Some(&after)).await?.expect_text(&user)?;
        ctx.get("/session/cart", Some(&after))
            .await?
            .expect_text("3 apples")?;

        let old = ctx.get("/whoami", Some(&before)).await?;
        old.expect_status(StatusCode::UNAUTHORIZED)?;
        ctx.get("/session/cart", Some(&before))
            .await?
            .expect_status(StatusCode::NOT_FOUND)?;

        // A login without any prior session works too.
        let fresh = ctx.login(&user, None).await?;
        ctx.get("/whoami", Some(&fresh)).await?.expect_text(&user)?;
        Ok(())
    })
}

/// After logout, replaying the old cookie is not logged in.
pub(crate) fn logout(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let user = ctx.user("bob");
        let sid = ctx.login(&user, None).await?;
        ctx.put("note", "secret", Some(&sid))
            .await?
            .expect_status(StatusCode::NO_CONTENT)?;
        let reply = ctx.post("/logout", Some(&sid)).await?;
        reply.expect_status(StatusCode::NO_CONTENT)?;
        checks::removal_cookie(&ctx.target, &reply)?;

        ctx.get("/whoami", Some(&sid))
            .await?
            .expect_status(StatusCode::UNAUTHORIZED)?;
        ctx.get("/session/note", Some(&sid))
            .await?
            .expect_status(StatusCode::NOT_FOUND)?;
        // Writing with the dead cookie starts a new session, it does not revive the old one.
        let reply = ctx.put("note", "again", Some(&sid)).await?;
        reply.expect_status(StatusCode::NO_CONTENT)?;
        let new = checks::new_cookie(&ctx.target, &reply)?;
        ensure(new != sid, || {
            "a write with a logged-out cookie revived the old session ID".into()
        })?;
        ctx.get("/whoami", Some(&new))
            .await?
            .expect_status(StatusCode::UNAUTHORIZED)?;
        Ok(())
    })
}

/// Three logins of one user and one of another; "log out everywhere" from the first kills
/// the other two of that user only.
pub(crate) fn logout_everywhere(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let user = ctx.user("erin");
        let other = ctx.user("frank");
        let first = ctx.login(&user, None).await?;
        let second = ctx.login(&user, None).await?;
        let third = ctx.login(&user, None).await?;
        let bystander = ctx.login(&other, None).await?;

        let reply = ctx.post("/logout-everywhere", Some(&first)).await?;
        if reply.status == StatusCode::NOT_IMPLEMENTED {
            return Err(Failure::Unsupported(format!(
                "POST /logout-everywhere answered 501: {}",
                reply.body
            )));
        }
        reply.expect_status(StatusCode::OK)?;
        checks::no_session_cookie(&ctx.target, &reply)?;
        let json = reply.json()?;
        ensure(
            json.get("destroyed").and_then(|n| n.as_u64()) == Some(2),
            || format!("POST /logout-everywhere: expected {{\"destroyed\": 2}}, got {json}"),
        )?;

        ctx.get("/whoami", Some(&first)).await?.expect_text(&user)?;
        for (label, sid) in [("second", &second), ("third", &third)] {
            ctx.get("/whoami", Some(sid))
                .await?
                .expect_status(StatusCode::UNAUTHORIZED)
                .map_err(|_| {
                    Failure::failed(format!(
                        "the {label} session of {user} survived POST /logout-everywhere"
                    ))
                })?;
        }
        ctx.get("/whoami", Some(&bystander))
            .await?
            .expect_text(&other)?;
        Ok(())
    })
}
