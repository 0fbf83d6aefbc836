//! The `/app` page set (`demo_support::pages`) as a browser without JavaScript uses it:
//! plain forms carrying the CSRF token from the page, each POST answered `303 See Other` to
//! `/app`, the outcome shown once as a flash message.

use http::header::{COOKIE, LOCATION};
use http::{Method, StatusCode};

use super::{Ctx, ScenarioFuture, ensure};
use crate::checks;
use crate::client::{Body, Reply};
use crate::scenarios::Failure;

/// The guard's 403 body (core's `session_core::csrf::CSRF_REJECTED`).
const CSRF_REJECTED: &str = "missing or invalid CSRF token";

/// `GET /app` with session `sid`; fails unless it is a 200 HTML page.
async fn page(ctx: &Ctx, sid: Option<&str>) -> Result<Reply, Failure> {
    let reply = ctx.get("/app", sid).await?;
    reply.expect_status(StatusCode::OK)?;
    ensure(
        reply
            .content_type()
            .is_some_and(|t| t.starts_with("text/html")),
        || format!("GET /app: not HTML: {:?}", reply.content_type()),
    )?;
    Ok(reply)
}

/// The `csrf_token` every form of `page` carries; fails unless all forms carry the same one.
fn token_of(page: &Reply) -> Result<String, Failure> {
    const FIELD: &str = r#"name="csrf_token" value=""#;
    let tokens: Vec<&str> = page
        .body
        .match_indices(FIELD)
        .filter_map(|(at, _)| page.body[at + FIELD.len()..].split('"').next())
        .collect();
    let forms = page.body.matches("<form ").count();
    match tokens.first() {
        Some(first)
            if !first.is_empty() && tokens.len() == forms && tokens.iter().all(|t| t == first) =>
        {
            Ok((*first).to_owned())
        }
        _ => Err(Failure::failed(format!(
            "{}: expected one CSRF token in each of its {forms} forms, got {tokens:?}",
            page.request
        ))),
    }
}

/// `POST path` with session `sid` and the urlencoded `form`.
async fn post_form(ctx: &Ctx, path: &str, sid: &str, form: &str) -> Result<Reply, Failure> {
    let cookie = ctx.cookie(sid);
    ctx.send_headers(
        Method::POST,
        path,
        &[(COOKIE.as_str(), &cookie)],
        Body::Form(form.to_owned()),
    )
    .await
}

/// Fails unless `reply` is `303 See Other` to `/app`.
fn expect_back_to_app(reply: &Reply) -> Result<(), Failure> {
    reply.expect_status(StatusCode::SEE_OTHER)?;
    let location = reply.headers.get(LOCATION).and_then(|v| v.to_str().ok());
    ensure(location == Some("/app"), || {
        format!(
            "{}: expected Location: /app, got {location:?}",
            reply.request
        )
    })
}

fn expect_rejected(reply: &Reply) -> Result<(), Failure> {
    reply.expect_status(StatusCode::FORBIDDEN)?;
    ensure(reply.body == CSRF_REJECTED, || {
        format!("{}: unexpected 403 body {:?}", reply.request, reply.body)
    })
}

fn expect_contains(reply: &Reply, needle: &str) -> Result<(), Failure> {
    ensure(reply.body.contains(needle), || {
        format!(
            "{}: expected the page to contain {needle:?}:\n{}",
            reply.request, reply.body
        )
    })
}

fn expect_lacks(reply: &Reply, needle: &str) -> Result<(), Failure> {
    ensure(!reply.body.contains(needle), || {
        format!(
            "{}: expected the page not to contain {needle:?}:\n{}",
            reply.request, reply.body
        )
    })
}

/// `value` percent-encoded for a urlencoded form.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A visitor's page carries the sign-in form and a token; signing in needs that token (403
/// without it or with a forged one), moves the session to a new ID with a new token, shows
/// "Signed in" once; signing out needs the new token, kills the ID and says so once.
pub(crate) fn sign_in_and_out(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let user = ctx.user("page");
        let first = page(ctx, None).await?;
        expect_contains(&first, r#"action="/app/login""#)?;
        let visitor = checks::new_cookie(&ctx.target, &first)?;
        let token = token_of(&first)?;

        let form = format!("user={user}");
        expect_rejected(&post_form(ctx, "/app/login", &visitor, &form).await?)?;
        expect_rejected(
            &post_form(
                ctx,
                "/app/login",
                &visitor,
                &format!("{form}&csrf_token=forged"),
            )
            .await?,
        )?;
        ctx.get("/whoami", Some(&visitor))
            .await?
            .expect_status(StatusCode::UNAUTHORIZED)?;

        let signed_in = post_form(
            ctx,
            "/app/login",
            &visitor,
            &format!("csrf_token={token}&{form}"),
        )
        .await?;
        expect_back_to_app(&signed_in)?;
        let sid = checks::new_cookie(&ctx.target, &signed_in)?;
        ensure(sid != visitor, || {
            "POST /app/login kept the visitor's session ID".into()
        })?;

        let home = page(ctx, Some(&sid)).await?;
        let flash = format!("Signed in as {user}.");
        expect_contains(&home, &flash)?;
        expect_contains(&home, &format!(r#"<strong id="user">{user}</strong>"#))?;
        let rotated = token_of(&home)?;
        ensure(rotated != token, || {
            "GET /app after sign-in: the CSRF token was not rotated".into()
        })?;
        let again = page(ctx, Some(&sid)).await?;
        expect_lacks(&again, &flash)?;
        expect_contains(&again, r#"<strong id="user">"#)?;
        ctx.get("/whoami", Some(&sid)).await?.expect_text(&user)?;

        // The visitor's token died with the visitor's ID.
        let stale = format!("csrf_token={token}");
        expect_rejected(&post_form(ctx, "/app/logout", &sid, &stale).await?)?;
        ctx.get("/whoami", Some(&sid)).await?.expect_text(&user)?;

        let signed_out =
            post_form(ctx, "/app/logout", &sid, &format!("csrf_token={rotated}")).await?;
        expect_back_to_app(&signed_out)?;
        // The "signed out" message lives in a new session.
        let after = checks::new_cookie(&ctx.target, &signed_out)?;
        ensure(after != sid, || {
            "POST /app/logout kept the signed-in session ID".into()
        })?;
        ctx.get("/whoami", Some(&sid))
            .await?
            .expect_status(StatusCode::UNAUTHORIZED)?;
        let bye = page(ctx, Some(&after)).await?;
        expect_contains(&bye, "Signed out.")?;
        expect_contains(&bye, r#"action="/app/login""#)?;
        Ok(())
    })
}

/// "Remember me" yields a persistent cookie (positive `Max-Age`), signing in again without
/// it a browser-session cookie; a user name is shown escaped; a name core refuses as an
/// owner is told on the page, not answered with an error status.
pub(crate) fn remember_me_and_escaping(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let user = ctx.user("<b>eve");
        let first = page(ctx, None).await?;
        let visitor = checks::new_cookie(&ctx.target, &first)?;
        let token = token_of(&first)?;

        let remembered = post_form(
            ctx,
            "/app/login",
            &visitor,
            &format!("csrf_token={token}&user={}&remember=on", encode(&user)),
        )
        .await?;
        expect_back_to_app(&remembered)?;
        let sid = checks::persistent_cookie(&ctx.target, &remembered)?;
        let home = page(ctx, Some(&sid)).await?;
        expect_lacks(&home, "<b>eve")?;
        expect_contains(&home, &user.replace('<', "&lt;").replace('>', "&gt;"))?;
        expect_contains(&home, "remembered on this device")?;

        let token = token_of(&home)?;
        let plain = post_form(
            ctx,
            "/app/login",
            &sid,
            &format!("csrf_token={token}&user={}", encode(&user)),
        )
        .await?;
        expect_back_to_app(&plain)?;
        let sid = checks::new_cookie(&ctx.target, &plain)?;
        let home = page(ctx, Some(&sid)).await?;
        expect_lacks(&home, "remembered on this device")?;

        let token = token_of(&home)?;
        let refused = post_form(
            ctx,
            "/app/login",
            &sid,
            &format!("csrf_token={token}&user=%20"),
        )
        .await?;
        expect_back_to_app(&refused)?;
        let home = page(ctx, Some(&sid)).await?;
        expect_contains(&home, "That user name cannot be used")?;
        ctx.get("/whoami", Some(&sid)).await?.expect_text(&user)?;
        Ok(())
    })
}
