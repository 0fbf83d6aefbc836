//! Concurrent requests to one session never lose each other's writes, and never fork it.

use futures_util::future::join_all;
use http::StatusCode;

use super::{Ctx, Failure, ScenarioFuture, ensure};
use crate::checks;

const WRITERS: usize = 50;

/// How many times the concurrent-login race is run: a fork shows up in some rounds only.
const LOGIN_ROUNDS: usize = 10;

/// 50 concurrent `PUT /session/key{i}` with one cookie: all 50 keys are there afterwards.
pub(crate) fn fifty_writers(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let sid = ctx.new_session("seed", "0").await?;
        let writes = (0..WRITERS).map(|i| {
            let sid = sid.clone();
            async move {
                let reply = ctx
                    .put(&format!("key{i}"), &format!("value{i}"), Some(&sid))
                    .await?;
                reply.expect_status(StatusCode::NO_CONTENT)?;
                Ok::<(), Failure>(())
            }
        });
        for result in join_all(writes).await {
            result?;
        }
        let mut missing = Vec::new();
        for i in 0..WRITERS {
            let reply = ctx.get(&format!("/session/key{i}"), Some(&sid)).await?;
            if reply.status != StatusCode::OK || reply.body != format!("value{i}") {
                missing.push(format!("key{i} ({} {:?})", reply.status, reply.body));
            }
        }
        if missing.is_empty() {
            ctx.get("/session/seed", Some(&sid))
                .await?
                .expect_text("0")?;
            Ok(())
        } else {
            Err(Failure::failed(format!(
                "{} of {WRITERS} concurrent writes were lost: {}",
                missing.len(),
                missing.join(", ")
            )))
        }
    })
}

/// Two `POST /login` sent at once with the same pre-login cookie, round after round: both
/// answer with a new ID, each new session holds its own login, and exactly one of them holds
/// the pre-login data (a regenerate moves the session, it never copies it); the pre-login ID
/// is dead.
pub(crate) fn concurrent_logins(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let users = [ctx.user("racer-a"), ctx.user("racer-b")];
        for round in 0..LOGIN_ROUNDS {
            let cart = format!("round {round}");
            let before = ctx.new_session("cart", &cart).await?;
            let (first, second) = tokio::join!(
                ctx.login_request(&users[0], Some(&before)),
                ctx.login_request(&users[1], Some(&before)),
            );
            let mut after = Vec::new();
            for reply in [first?, second?] {
                reply.expect_status(StatusCode::NO_CONTENT)?;
                after.push(checks::new_cookie(&ctx.target, &reply)?);
            }
            ensure(
                after[0] != before && after[1] != before && after[0] != after[1],
                || format!("round {round}: the two logins did not both get a new, distinct ID"),
            )?;

            let mut holders = 0;
            for (sid, user) in after.iter().zip(&users) {
                ctx.get("/whoami", Some(sid)).await?.expect_text(user)?;
                let reply = ctx.get("/session/cart", Some(sid)).await?;
                if reply.status == StatusCode::OK {
                    reply.expect_text(&cart)?;
                    holders += 1;
                } else {
                    reply.expect_status(StatusCode::NOT_FOUND)?;
                }
            }
            ensure(holders == 1, || {
                format!(
                    "round {round}: {holders} of the two sessions made by concurrent logins \
                     hold the pre-login data (exactly one should)"
                )
            })?;
            ctx.get("/session/cart", Some(&before))
                .await?
                .expect_status(StatusCode::NOT_FOUND)?;
        }
        Ok(())
    })
}
