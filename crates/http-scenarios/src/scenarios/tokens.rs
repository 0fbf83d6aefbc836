//! Header tokens for APIs (`/api/...` routes under the header transport: the session ID in
//! `Authorization: Bearer`, new tokens in `Session-Token`) and the CSRF guard
//! (`/csrf/protected`, with the token from `GET /csrf`).

use http::header::{AUTHORIZATION, COOKIE};
use http::{Method, StatusCode};

use super::{Ctx, Failure, ScenarioFuture, ensure};
use crate::checks::{self, TOKEN_RESPONSE_HEADER};
use crate::client::{Body, Reply};

/// The CSRF guard's header and its 403 body (core's `session_core::csrf`).
const CSRF_HEADER: &str = "x-csrf-token";
const CSRF_REJECTED: &str = "missing or invalid CSRF token";

/// The `Session-Token` of `reply`, if any.
pub(crate) fn returned_token(reply: &Reply) -> Option<String> {
    reply
        .headers
        .get(TOKEN_RESPONSE_HEADER)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

fn expect_vary_authorization(reply: &Reply) -> Result<(), Failure> {
    ensure(reply.varies_on("authorization"), || {
        format!(
            "{}: a header-transport answer that used the session should vary on \
             Authorization, got Vary {:?}",
            reply.request,
            reply.headers.get_all(http::header::VARY)
        )
    })
}

/// Login on a header route hands out a token in `Session-Token` (never a cookie); the token
/// in `Authorization: Bearer` finds the session, the same ID in a cookie does not (neither
/// on the header route nor the other way round); logout signals removal with an empty
/// `Session-Token`, and the token is dead afterwards.
pub(crate) fn header_routes(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let user = ctx.user("ada");
        let login = ctx
            .send_headers(
                Method::POST,
                "/api/login",
                &[],
                Body::Form(format!("user={user}")),
            )
            .await?;
        login.expect_status(StatusCode::NO_CONTENT)?;
        checks::no_set_cookie_at_all(&login)?;
        expect_vary_authorization(&login)?;
        let token = returned_token(&login).filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Err(Failure::failed(format!(
                "POST /api/login: expected a Session-Token header, got {:?}",
                login.headers
            )));
        };
        let bearer = format!("Bearer {token}");

        let me = ctx
            .send_headers(
                Method::GET,
                "/api/whoami",
                &[(AUTHORIZATION.as_str(), &bearer)],
                Body::Empty,
            )
            .await?;
        me.expect_text(&user)?;
        checks::no_set_cookie_at_all(&me)?;
        expect_vary_authorization(&me)?;
        ensure(returned_token(&me).is_none(), || {
            "GET /api/whoami: a read must not hand the token out again".into()
        })?;

        // The same ID as a cookie: no session on the header route, no silent fallback.
        let cookie = ctx.cookie(&token);
        ctx.send_headers(
            Method::GET,
            "/api/whoami",
            &[(COOKIE.as_str(), &cookie)],
            Body::Empty,
        )
        .await?
        .expect_status(StatusCode::UNAUTHORIZED)?;
        // And a cookie route does not read the header.
        ctx.send_headers(
            Method::GET,
            "/whoami",
            &[(AUTHORIZATION.as_str(), &bearer)],
            Body::Empty,
        )
        .await?
        .expect_status(StatusCode::UNAUTHORIZED)?;

        let logout = ctx
            .send_headers(
                Method::POST,
                "/api/logout",
                &[(AUTHORIZATION.as_str(), &bearer)],
                Body::Empty,
            )
            .await?;
        logout.expect_status(StatusCode::NO_CONTENT)?;
        checks::no_set_cookie_at_all(&logout)?;
        ensure(returned_token(&logout).as_deref() == Some(""), || {
            format!(
                "POST /api/logout: expected an empty Session-Token (removal), got {:?}",
                returned_token(&logout)
            )
        })?;
        ctx.send_headers(
            Method::GET,
            "/api/whoami",
            &[(AUTHORIZATION.as_str(), &bearer)],
            Body::Empty,
        )
        .await?
        .expect_status(StatusCode::UNAUTHORIZED)?;
        Ok(())
    })
}

/// `POST /csrf/protected` with the session's cookie.
async fn protected(
    ctx: &Ctx,
    cookie: &str,
    header: Option<&str>,
    body: Body,
) -> Result<Reply, Failure> {
    let mut lines = vec![(COOKIE.as_str(), cookie)];
    if let Some(token) = header {
        lines.push((CSRF_HEADER, token));
    }
    ctx.send_headers(Method::POST, "/csrf/protected", &lines, body)
        .await
}

fn expect_rejected(reply: &Reply) -> Result<(), Failure> {
    reply.expect_status(StatusCode::FORBIDDEN)?;
    ensure(reply.body == CSRF_REJECTED, || {
        format!("{}: unexpected 403 body {:?}", reply.request, reply.body)
    })
}

/// The guard answers 403 to a POST without the token or with a wrong one, lets it through
/// with the token in `X-CSRF-Token` or in the `csrf_token` form field, lets GET through
/// without one, and a login (regenerate) gives the session a new token: the old one is then
/// refused.
pub(crate) fn csrf_guard(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let first = ctx.get("/csrf", None).await?;
        first.expect_status(StatusCode::OK)?;
        let sid = checks::new_cookie(&ctx.target, &first)?;
        let token = first.body.clone();
        ensure(token.len() >= 32, || {
            format!("GET /csrf: token too short: {token:?}")
        })?;
        let cookie = ctx.cookie(&sid);

        expect_rejected(&protected(ctx, &cookie, None, Body::Empty).await?)?;
        expect_rejected(&protected(ctx, &cookie, Some("forged"), Body::Empty).await?)?;
        expect_rejected(
            &protected(ctx, &cookie, None, Body::Form("csrf_token=forged".into())).await?,
        )?;
        protected(ctx, &cookie, Some(&token), Body::Empty)
            .await?
            .expect_status(StatusCode::NO_CONTENT)?;
        protected(
            ctx,
            &cookie,
            None,
            Body::Form(format!("note=hi&csrf_token={token}")),
        )
        .await?
        .expect_status(StatusCode::NO_CONTENT)?;
        // Safe methods pass without a token.
        ctx.get("/csrf/protected", Some(&sid))
            .await?
            .expect_status(StatusCode::NO_CONTENT)?;
        // Another client's token does not fit this session.
        let other = ctx.get("/csrf", None).await?;
        expect_rejected(&protected(ctx, &cookie, Some(&other.body), Body::Empty).await?)?;

        // Login rotates the token along with the ID.
        let user = ctx.user("csrf");
        let sid = ctx.login(&user, Some(&sid)).await?;
        let cookie = ctx.cookie(&sid);
        expect_rejected(&protected(ctx, &cookie, Some(&token), Body::Empty).await?)?;
        let rotated = ctx.get("/csrf", Some(&sid)).await?;
        rotated.expect_status(StatusCode::OK)?;
        ensure(rotated.body != token, || {
            "GET /csrf after login: the token was not rotated".into()
        })?;
        protected(ctx, &cookie, Some(&rotated.body), Body::Empty)
            .await?
            .expect_status(StatusCode::NO_CONTENT)?;
        Ok(())
    })
}
