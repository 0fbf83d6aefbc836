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
        let (sid, _) = checks::persistent_cookie(&ctx.target, &remembered)?;
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

/// Signs `user` in from a new client through the forms; returns its session ID and the
/// page it then sees.
async fn signed_in(ctx: &Ctx, user: &str) -> Result<(String, Reply), Failure> {
    let first = page(ctx, None).await?;
    let visitor = checks::new_cookie(&ctx.target, &first)?;
    let token = token_of(&first)?;
    let reply = post_form(
        ctx,
        "/app/login",
        &visitor,
        &format!("csrf_token={token}&user={}", encode(user)),
    )
    .await?;
    expect_back_to_app(&reply)?;
    let sid = checks::new_cookie(&ctx.target, &reply)?;
    let home = page(ctx, Some(&sid)).await?;
    Ok((sid, home))
}

/// The handles of the device rows of `page`, each with whether it is marked current.
fn device_rows(page: &Reply) -> Vec<(String, bool)> {
    const ROW: &str = r#"<tr class="device"#;
    page.body
        .match_indices(ROW)
        .filter_map(|(at, _)| {
            let rest = &page.body[at + ROW.len()..];
            let current = rest.starts_with(" current\"");
            let handle = rest.split_once(r#"data-handle=""#)?.1.split('"').next()?;
            Some((handle.to_owned(), current))
        })
        .collect()
}

/// Two sign-ins of one user each see both devices, their own marked; one revokes the other
/// by its handle through the form (a malformed handle is a 400), which signs it out; "sign
/// out everywhere else" signs out a third and keeps the one asking.
pub(crate) fn devices(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let user = ctx.user("devices");
        let (laptop, _) = signed_in(ctx, &user).await?;
        let (phone, home) = signed_in(ctx, &user).await?;
        if home.body.contains(r#"id="no-devices""#) {
            return Err(Failure::Unsupported(
                "the provider keeps no owner index: no device list".into(),
            ));
        }
        let rows = device_rows(&home);
        let others: Vec<&String> = rows.iter().filter(|(_, c)| !c).map(|(h, _)| h).collect();
        ensure(rows.len() == 2 && others.len() == 1, || {
            format!("GET /app: expected 2 devices, 1 of them current, got {rows:?}")
        })?;
        let other = others[0].clone();
        let token = format!("csrf_token={}", token_of(&home)?);

        let forged = post_form(
            ctx,
            "/app/devices/revoke",
            &phone,
            &format!("{token}&handle=not-a-handle"),
        )
        .await?;
        forged.expect_status(StatusCode::BAD_REQUEST)?;
        ctx.get("/whoami", Some(&laptop))
            .await?
            .expect_text(&user)?;

        let revoke = format!("{token}&handle={other}");
        expect_back_to_app(&post_form(ctx, "/app/devices/revoke", &phone, &revoke).await?)?;
        ctx.get("/whoami", Some(&laptop))
            .await?
            .expect_status(StatusCode::UNAUTHORIZED)?;
        let home = page(ctx, Some(&phone)).await?;
        expect_contains(&home, "That device is signed out.")?;
        let rows = device_rows(&home);
        ensure(rows.len() == 1 && rows[0].1, || {
            format!("GET /app after the revoke: expected this device only, got {rows:?}")
        })?;
        expect_back_to_app(&post_form(ctx, "/app/devices/revoke", &phone, &revoke).await?)?;
        expect_contains(
            &page(ctx, Some(&phone)).await?,
            "That device was already signed out.",
        )?;

        let (tablet, _) = signed_in(ctx, &user).await?;
        let everywhere = post_form(ctx, "/app/logout-everywhere", &phone, &token).await?;
        expect_back_to_app(&everywhere)?;
        ctx.get("/whoami", Some(&tablet))
            .await?
            .expect_status(StatusCode::UNAUTHORIZED)?;
        ctx.get("/whoami", Some(&phone)).await?.expect_text(&user)?;
        expect_contains(
            &page(ctx, Some(&phone)).await?,
            "Signed out on 1 other device.",
        )?;
        Ok(())
    })
}
