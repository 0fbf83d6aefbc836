//! Flash messages, with the seed's `GET /signup` page: queued messages are shown once on the
//! next page that reads them, "show now" ones only in the current response, and text is
//! escaped as data.

use http::{Method, StatusCode};

use super::{Ctx, Failure, ScenarioFuture, ensure};
use crate::checks;
use crate::client::{Body, Reply};

/// The four messages the seed's signup handler queues.
const SEED: [&str; 4] = ["yes!!!", "opps...", "aha?!", "Just be careful."];

fn shows(reply: &Reply, text: &str) -> bool {
    reply.body.contains(&format!("<h2>{text}</h2>"))
}

fn shows_none(reply: &Reply) -> bool {
    reply.body.matches("<h2></h2>").count() == 4
}

async fn page(ctx: &Ctx, path: &str, sid: &str) -> Result<Reply, Failure> {
    let reply = ctx.get(path, Some(sid)).await?;
    reply.expect_status(StatusCode::OK)?;
    Ok(reply)
}

/// `GET /signup` queues the seed's four messages; the next page that reads flashes shows
/// them once, and the one after shows none.
pub(crate) fn seed_signup(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        // Without a session, queuing the messages creates one.
        let first = ctx.get("/signup", None).await?;
        first.expect_status(StatusCode::OK)?;
        ensure(shows_none(&first), || {
            format!("the first /signup showed messages: {:?}", first.body)
        })?;
        checks::new_cookie(&ctx.target, &first)?;

        // The rest in a session that holds other data too, so consuming the messages does
        // not empty (and so delete) it.
        let sid = ctx.new_session("k", "v").await?;
        page(ctx, "/signup", &sid).await?;
        let next = page(ctx, "/flash", &sid).await?;
        for text in SEED {
            ensure(shows(&next, text), || {
                format!(
                    "the page after /signup does not show {text:?}: {:?}",
                    next.body
                )
            })?;
        }
        let after = page(ctx, "/flash", &sid).await?;
        ensure(shows_none(&after), || {
            format!("flash messages were shown twice: {:?}", after.body)
        })?;

        // /signup after /signup shows the messages the first one queued.
        page(ctx, "/signup", &sid).await?;
        let again = page(ctx, "/signup", &sid).await?;
        ensure(SEED.iter().all(|t| shows(&again, t)), || {
            format!(
                "the second /signup did not show the queued messages: {:?}",
                again.body
            )
        })?;
        Ok(())
    })
}

/// A "show now" message appears in the current response only; message text is escaped.
pub(crate) fn show_now_and_escaping(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let sid = ctx.new_session("k", "v").await?;
        let cookie = ctx.cookie(&sid);
        let form = |level: &str, text: &str, now: bool| {
            Body::Form(format!(
                "level={level}&text={}&now={now}",
                percent_encode(text)
            ))
        };
        let now = ctx
            .send(
                Method::POST,
                "/flash",
                Some(&cookie),
                form("info", "right now", true),
            )
            .await?;
        now.expect_status(StatusCode::OK)?;
        ensure(shows(&now, "right now"), || {
            format!(
                "a show-now message is missing from its response: {:?}",
                now.body
            )
        })?;
        let later = page(ctx, "/flash", &sid).await?;
        ensure(!later.body.contains("right now"), || {
            "a show-now message was carried to the next request".into()
        })?;

        let script = "<script>alert(1)</script>";
        ctx.send(
            Method::POST,
            "/flash",
            Some(&cookie),
            form("error", script, false),
        )
        .await?
        .expect_status(StatusCode::OK)?;
        let shown = page(ctx, "/flash", &sid).await?;
        ensure(!shown.body.contains(script), || {
            format!("flash text was rendered as HTML: {:?}", shown.body)
        })?;
        ensure(shown.body.contains("&lt;script&gt;"), || {
            format!("the escaped message is missing: {:?}", shown.body)
        })?;
        Ok(())
    })
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
