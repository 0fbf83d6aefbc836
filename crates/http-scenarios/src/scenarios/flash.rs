//! Flash messages, with the seed's `GET /signup` page: queued messages are shown once on the
//! next page that reads them, "show now" ones only in the current response, and text is
//! escaped as data.

use http::{Method, StatusCode};

use super::{Ctx, Failure, ScenarioFuture, ensure};
use crate::checks;
use crate::client::{Body, Reply};

/// The four messages the seed's signup handler queues.
const SEED: [&str; 4] = ["yes!!!", "opps...", "aha?!", "Just be careful."];

/// What a page with no message shows.
const NOTHING: [&str; 4] = ["", "", "", ""];

/// The page's `<h2>` contents, in the template's order: success, error, info, warning.
fn headings(reply: &Reply) -> Vec<&str> {
    reply
        .body
        .split("<h2>")
        .skip(1)
        .filter_map(|part| part.split_once("</h2>").map(|(heading, _)| heading))
        .collect()
}

/// Fails unless the page's four headings are `expected` (success, error, info, warning).
fn shows_exactly(reply: &Reply, expected: [&str; 4], what: &str) -> Result<(), Failure> {
    let shown = headings(reply);
    ensure(shown == expected, || {
        format!(
            "{what}: expected the headings {expected:?}, got {shown:?} in {:?}",
            reply.body
        )
    })
}

/// `GET path` with session `sid`: a 200 HTML page that leaves the session cookie alone.
async fn page(ctx: &Ctx, path: &str, sid: &str) -> Result<Reply, Failure> {
    let reply = ctx.get(path, Some(sid)).await?;
    html(&reply)?;
    checks::no_session_cookie(&ctx.target, &reply)?;
    Ok(reply)
}

/// Fails unless `reply` is a 200 `text/html` page.
fn html(reply: &Reply) -> Result<(), Failure> {
    reply.expect_status(StatusCode::OK)?;
    ensure(
        reply
            .content_type()
            .is_some_and(|c| c.starts_with("text/html")),
        || {
            format!(
                "{}: expected a text/html page, got Content-Type {:?}",
                reply.request,
                reply.content_type()
            )
        },
    )
}

/// Fails unless `reply` shows the seed's four messages, each in its level's place.
fn shows_seed(reply: &Reply, what: &str) -> Result<(), Failure> {
    shows_exactly(reply, SEED, what)
}

/// Fails unless `reply` shows no message at all.
fn shows_nothing(reply: &Reply, what: &str) -> Result<(), Failure> {
    shows_exactly(reply, NOTHING, what)
}

/// `GET /signup` queues the seed's four messages; the next page that reads flashes shows
/// them once, and the one after shows none.
pub(crate) fn seed_signup(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        // Without a session, queuing the messages creates one...
        let first = ctx.get("/signup", None).await?;
        html(&first)?;
        shows_nothing(&first, "the first /signup")?;
        let only = checks::new_cookie(&ctx.target, &first)?;
        // ...and reading them empties it, which removes it and its cookie.
        let shown = ctx.get("/flash", Some(&only)).await?;
        html(&shown)?;
        shows_seed(&shown, "the page after /signup")?;
        checks::removal_cookie(&ctx.target, &shown)?;
        shows_nothing(&page(ctx, "/flash", &only).await?, "the page after that")?;

        // The rest in a session that holds other data too, so consuming the messages does
        // not empty (and so delete) it: no cookie changes.
        let sid = ctx.new_session("k", "v").await?;
        page(ctx, "/signup", &sid).await?;
        shows_seed(&page(ctx, "/flash", &sid).await?, "the page after /signup")?;
        let after = page(ctx, "/flash", &sid).await?;
        shows_nothing(&after, "a page after the messages were shown")?;

        // /signup after /signup shows the messages the first one queued, and queues them
        // again for the next page, once.
        page(ctx, "/signup", &sid).await?;
        shows_seed(&page(ctx, "/signup", &sid).await?, "the second /signup")?;
        shows_seed(
            &page(ctx, "/flash", &sid).await?,
            "the page after two /signup",
        )?;
        shows_nothing(&page(ctx, "/flash", &sid).await?, "the page after that")?;
        Ok(())
    })
}

/// `POST /flash` with form fields `level`, `text` and `now`.
async fn post_flash(
    ctx: &Ctx,
    sid: Option<&str>,
    level: &str,
    text: &str,
    now: bool,
) -> Result<Reply, Failure> {
    let cookie = sid.map(|s| ctx.cookie(s));
    let form = format!("level={level}&text={}&now={now}", percent_encode(text));
    ctx.send(Method::POST, "/flash", cookie.as_deref(), Body::Form(form))
        .await
}

/// Posts the info message "right now" to be shown now; fails unless the page shows it, and
/// only it (nothing was queued before).
async fn show_now(ctx: &Ctx, sid: Option<&str>) -> Result<Reply, Failure> {
    let now = post_flash(ctx, sid, "info", "right now", true).await?;
    html(&now)?;
    shows_exactly(&now, ["", "", "right now", ""], "a show-now info message")?;
    Ok(now)
}

/// A "show now" message appears in the current response only and is never stored; message
/// text is escaped.
pub(crate) fn show_now_and_escaping(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        // Without a session, a show-now message creates nothing and writes nothing.
        let writes_before = ctx.target.writes.as_ref().map(|count| count());
        let now = show_now(ctx, None).await?;
        checks::no_session_cookie(&ctx.target, &now)?;
        if let (Some(before), Some(count)) = (writes_before, &ctx.target.writes) {
            let after = count();
            ensure(after == before, || {
                format!("a show-now message alone wrote to the store ({before} -> {after} writes)")
            })?;
        }

        let sid = ctx.new_session("k", "v").await?;
        show_now(ctx, Some(&sid)).await?;
        let later = page(ctx, "/flash", &sid).await?;
        shows_exactly(&later, NOTHING, "the request after a show-now message")?;

        // A queued message creates the session; its text comes back escaped.
        let script = "<script>alert(1)</script>";
        let queued = post_flash(ctx, None, "error", script, false).await?;
        html(&queued)?;
        let sid = checks::new_cookie(&ctx.target, &queued)?;
        let shown = ctx.get("/flash", Some(&sid)).await?;
        html(&shown)?;
        ensure(!shown.body.contains(script), || {
            format!("flash text was rendered as HTML: {:?}", shown.body)
        })?;
        // How `/` is escaped (or not) is the template engine's choice.
        let shown_headings = headings(&shown);
        ensure(
            shown_headings.len() == 4
                && shown_headings[1].starts_with("&lt;script&gt;alert(1)&lt;")
                && [0, 2, 3].iter().all(|&i| shown_headings[i].is_empty()),
            || {
                format!(
                    "expected only the escaped error message, got {shown_headings:?} in {:?}",
                    shown.body
                )
            },
        )?;

        // An unknown level is the client's mistake.
        post_flash(ctx, None, "debug", "x", false)
            .await?
            .expect_status(StatusCode::BAD_REQUEST)?;
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
