//! Concurrent requests to one session never lose each other's writes.

use futures_util::future::join_all;
use http::StatusCode;

use super::{Ctx, Failure, ScenarioFuture};

const WRITERS: usize = 50;

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
