//! Strict mode: the server never adopts a session ID it did not issue.

use http::{Method, StatusCode};

use super::{Ctx, ScenarioFuture, ScenarioResult, ensure, random_hex};
use crate::checks;
use crate::client::Body;

/// Presents `value` as the session cookie: nothing is found, and the next write is stored
/// under a fresh ID that the server picks, never under `value`.
async fn not_adopted(ctx: &Ctx, label: &str, value: &str) -> ScenarioResult {
    let presented = Some(value);
    let key = format!("strict-{}", random_hex(4));
    let path = format!("/session/{key}");

    let reply = ctx.get(&path, presented).await?;
    reply.expect_status(StatusCode::NOT_FOUND)?;
    checks::no_session_cookie(&ctx.target, &reply)?;

    let reply = ctx.put(&key, "planted", presented).await?;
    reply.expect_status(StatusCode::NO_CONTENT)?;
    let issued = checks::new_cookie(&ctx.target, &reply)?;
    ensure(issued != value, || {
        format!("{label}: the server adopted the presented session ID {value:?}")
    })?;

    // The presented ID still names nothing; the issued one holds the write.
    ctx.get(&path, presented)
        .await?
        .expect_status(StatusCode::NOT_FOUND)
        .map_err(|_| {
            super::Failure::failed(format!(
                "{label}: data written with the presented ID {value:?} is readable with it"
            ))
        })?;
    ctx.get(&path, Some(&issued))
        .await?
        .expect_text("planted")?;
    Ok(())
}

/// A well-formed ID the server never issued.
pub(crate) fn unknown_id(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let forged = random_hex(16);
        not_adopted(ctx, "unknown well-formed ID", &forged).await
    })
}

/// IDs that are not IDs at all: a path, an over-long value, the wrong alphabet, nothing.
pub(crate) fn malformed_ids(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let long = "a".repeat(300);
        let cases = [
            ("path traversal", "../../etc/passwd".to_owned()),
            ("300 characters", long),
            ("non-hex", "z".repeat(32)),
            (
                "upper-case hex",
                "ABCDEF0123456789ABCDEF0123456789".to_owned(),
            ),
            ("empty", String::new()),
        ];
        for (label, value) in &cases {
            not_adopted(ctx, label, value).await?;
        }
        Ok(())
    })
}

/// A second cookie of the same name planted by an attacker (cookie tossing from a sibling
/// domain or another path) neither shadows the real session nor gets adopted.
pub(crate) fn tossed_cookie(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let sid = ctx.new_session("tossed", "real").await?;
        let forged = random_hex(16);
        let name = &ctx.target.cookie_name;
        for header in [
            format!("{name}={forged}; {name}={sid}"),
            format!("{name}={sid}; {name}={forged}"),
        ] {
            let reply = ctx
                .send(Method::GET, "/session/tossed", Some(&header), Body::Empty)
                .await?;
            reply.expect_text("real")?;
            checks::no_session_cookie(&ctx.target, &reply)?;
        }
        Ok(())
    })
}
