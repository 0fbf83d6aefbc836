//! The `both` transport over HTTP (`/both/...` routes): one route serves API clients with a
//! bearer token and browsers with the cookie, answers each in the transport it used, and
//! when a request carries both, the header decides (core's `session_core::transport`).

use http::header::{AUTHORIZATION, COOKIE};
use http::{Method, StatusCode};

use super::tokens::returned_token;
use super::{Ctx, Failure, ScenarioFuture, ensure};
use crate::checks;
use crate::client::{Body, Reply};

/// Fails unless `reply` varies on both the token header and the cookie: under `both`, the
/// answer depends on whichever the request carried.
fn expect_vary_both(reply: &Reply) -> Result<(), Failure> {
    ensure(
        reply.varies_on("authorization") && reply.varies_on_cookie(),
        || {
            format!(
                "{}: a `both`-transport answer that used the session should vary on \
                 Authorization and Cookie, got Vary {:?}",
                reply.request,
                reply.headers.get_all(http::header::VARY)
            )
        },
    )
}

/// Fails if `reply` returns a `Session-Token` (or its removal).
fn expect_no_token(reply: &Reply) -> Result<(), Failure> {
    ensure(returned_token(reply).is_none(), || {
        format!(
            "{}: expected no Session-Token header, got {:?}",
            reply.request,
            returned_token(reply)
        )
    })
}

/// `POST /both/login` as `user` with the given header lines; expects 204.
async fn login(ctx: &Ctx, user: &str, headers: &[(&str, &str)]) -> Result<Reply, Failure> {
    let reply = ctx
        .send_headers(
            Method::POST,
            "/both/login",
            headers,
            Body::Form(format!("user={user}")),
        )
        .await?;
    reply.expect_status(StatusCode::NO_CONTENT)?;
    Ok(reply)
}

/// `GET /both/whoami` with the given header lines.
async fn whoami(ctx: &Ctx, headers: &[(&str, &str)]) -> Result<Reply, Failure> {
    ctx.send_headers(Method::GET, "/both/whoami", headers, Body::Empty)
        .await
}

/// `POST /both/logout` with the given header lines; expects 204.
async fn logout(ctx: &Ctx, headers: &[(&str, &str)]) -> Result<Reply, Failure> {
    let reply = ctx
        .send_headers(Method::POST, "/both/logout", headers, Body::Empty)
        .await?;
    reply.expect_status(StatusCode::NO_CONTENT)?;
    Ok(reply)
}

/// A browser (cookie only) and an API client (header only) log in on the same route, each
/// answered in its own transport; a request carrying a bearer token and a cookie of two
/// different sessions is served by the token's, and a header that holds no bearer token
/// still shadows the cookie (no silent fallback); logout signals the removal in the
/// transport the request used (an empty `Session-Token`, or a `Max-Age=0` cookie) and
/// leaves the other session alone.
pub(crate) fn header_or_cookie(ctx: &Ctx) -> ScenarioFuture<'_> {
    Box::pin(async move {
        let browser_user = ctx.user("both-cookie");
        let api_user = ctx.user("both-header");

        // Cookie only: a Set-Cookie, no token header.
        let reply = login(ctx, &browser_user, &[]).await?;
        let sid = checks::new_cookie(&ctx.target, &reply)?;
        expect_no_token(&reply)?;
        let cookie = ctx.cookie(&sid);
        let by_cookie = [(COOKIE.as_str(), cookie.as_str())];
        let me = whoami(ctx, &by_cookie).await?;
        me.expect_text(&browser_user)?;
        checks::no_session_cookie(&ctx.target, &me)?;
        expect_no_token(&me)?;
        expect_vary_both(&me)?;

        // Header only, asking for a token with an empty bearer: a token, no cookie.
        let reply = login(ctx, &api_user, &[(AUTHORIZATION.as_str(), "Bearer")]).await?;
        checks::no_set_cookie_at_all(&reply)?;
        expect_vary_both(&reply)?;
        let Some(token) = returned_token(&reply).filter(|t| !t.is_empty()) else {
            return Err(Failure::failed(format!(
                "POST /both/login with an empty bearer: expected a Session-Token, got {:?}",
                reply.headers
            )));
        };
        let bearer = format!("Bearer {token}");
        let by_header = [(AUTHORIZATION.as_str(), bearer.as_str())];
        let me = whoami(ctx, &by_header).await?;
        me.expect_text(&api_user)?;
        checks::no_set_cookie_at_all(&me)?;
        expect_no_token(&me)?;
        expect_vary_both(&me)?;

        // Both, naming different sessions: the header wins and the cookie is left alone.
        let both = [by_header[0], by_cookie[0]];
        let me = whoami(ctx, &both).await?;
        me.expect_text(&api_user)?;
        checks::no_set_cookie_at_all(&me)?;
        // A header that carries no bearer token is a present, unknown token: the cookie
        // is not consulted in its place.
        let other_scheme = [(AUTHORIZATION.as_str(), "Basic dXNlcjpwYXNz"), by_cookie[0]];
        let me = whoami(ctx, &other_scheme).await?;
        me.expect_status(StatusCode::UNAUTHORIZED)?;
        checks::no_set_cookie_at_all(&me)?;

        // Logout with both: the token's session goes, removal in the header only.
        let reply = logout(ctx, &both).await?;
        checks::no_set_cookie_at_all(&reply)?;
        ensure(returned_token(&reply).as_deref() == Some(""), || {
            format!(
                "POST /both/logout with a bearer token: expected an empty Session-Token \
                 (removal), got {:?}",
                returned_token(&reply)
            )
        })?;
        whoami(ctx, &by_header)
            .await?
            .expect_status(StatusCode::UNAUTHORIZED)?;
        whoami(ctx, &by_cookie).await?.expect_text(&browser_user)?;

        // Logout with the cookie: a removal cookie, no token header.
        let reply = logout(ctx, &by_cookie).await?;
        checks::removal_cookie(&ctx.target, &reply)?;
        expect_no_token(&reply)?;
        whoami(ctx, &by_cookie)
            .await?
            .expect_status(StatusCode::UNAUTHORIZED)?;
        Ok(())
    })
}
