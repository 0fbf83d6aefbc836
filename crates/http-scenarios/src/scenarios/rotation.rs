//! Periodic ID rotation over HTTP: requests in flight with the old cookie when the rotation
//! is due neither fork the session nor lose a write, the old cookie works for the grace and
//! then dies, and a login still kills the ID it replaces at once.

use futures_util::future::join_all;
use http::StatusCode;

use super::{Ctx, Failure, ScenarioFuture, ensure};
use crate::checks;

const WRITERS: usize = 10;

/// Once the interval has passed, `WRITERS` concurrent `PUT /session/key{i}` with the old
/// cookie: every answer hands out the same new ID and every write is there under it. Within
/// the grace the old cookie still reads the session and is handed the new ID; after it, the
/// old cookie is unknown. A login from the new ID kills that ID at once (no grace).
pub(crate) fn parallel_requests_during_rotation(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let Some((interval, grace)) = ctx.target.rotation else {
            return Err(Failure::NotRun(
                "the server does not rotate IDs (Target::rotation is unset)".into(),
            ));
        };
        let old = ctx.new_session("seed", "before").await?;
        // Waiting for the rotation to come due: the server's clock is the real one.
        tokio::time::sleep(interval).await;
        let writes = (0..WRITERS).map(|i| {
            let old = old.clone();
            async move {
                let reply = ctx
                    .put(&format!("key{i}"), &format!("value{i}"), Some(&old))
                    .await?;
                reply.expect_status(StatusCode::NO_CONTENT)?;
                checks::new_cookie(&ctx.target, &reply)
            }
        });
        let mut ids = Vec::new();
        for id in join_all(writes).await {
            ids.push(id?);
        }
        ids.dedup();
        ensure(ids.len() == 1, || {
            format!("the concurrent requests of a rotation forked the session into {ids:?}")
        })?;
        let new = ids.remove(0);
        ensure(new != old, || "the rotation kept the ID".into())?;
        for i in 0..WRITERS {
            ctx.get(&format!("/session/key{i}"), Some(&new))
                .await?
                .expect_text(&format!("value{i}"))?;
        }

        // A request still in flight with the old cookie, within the grace.
        let late = ctx.get("/session/key0", Some(&old)).await?;
        late.expect_text("value0")?;
        let handed = checks::new_cookie(&ctx.target, &late)?;
        ensure(handed == new, || {
            format!("the old cookie within the grace was handed {handed}, not {new}")
        })?;

        tokio::time::sleep(grace).await;
        let dead = ctx.get("/session/seed", Some(&old)).await?;
        dead.expect_status(StatusCode::NOT_FOUND)?;
        checks::no_session_cookie(&ctx.target, &dead)?;
        ctx.get("/session/seed", Some(&new))
            .await?
            .expect_text("before")?;

        // Login is a regenerate: the replaced ID dies at once, rotation or not.
        let login = ctx.login(&ctx.user("rotated"), Some(&new)).await?;
        ctx.get("/session/seed", Some(&new))
            .await?
            .expect_status(StatusCode::NOT_FOUND)?;
        ctx.get("/session/seed", Some(&login))
            .await?
            .expect_text("before")?;
        Ok(())
    })
}
