//! The `both` transport over HTTP (`/both/...` routes): one route serves API clients with a
//! bearer token and browsers with the cookie, answers each in the transport it used, and
//! when a request carries both, the header decides (core's `session_core::transport`).

use http::header::{AUTHORIZATION, COOKIE};
use http::{Method, StatusCode};

use super::{Ctx, Failure, ScenarioFuture, ensure};
use crate::checks::{self, TOKEN_RESPONSE_HEADER};
use crate::client::{Body, Reply};

/// The `Session-Token` of `reply`, if any.
fn returned_token(reply: &Reply) -> Option<String> {
    reply
        .headers
        .get(TOKEN_RESPONSE_HEADER)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

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

/// `method path` with the given header lines and no body.
async fn request(
    ctx: &Ctx,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Reply, Failure> {
    ctx.send_headers(method, path, headers, Body::Empty).await
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
        let login = ctx
            .send_headers(
                Method::POST,
                "/both/login",
                &[],
                Body::Form(format!("user={browser_user}")),
            )
            .await?;
        login.expect_status(StatusCode::NO_CONTENT)?;
        let sid = checks::new_cookie(&ctx.target, &login)?;
        expect_no_token(&login)?;
        let cookie = ctx.cookie(&sid);
        let me = request(
            ctx,
            Method::GET,
            "/both/whoami",
            &[(COOKIE.as_str(), &cookie)],
        )
        .await?;
        me.expect_text(&browser_user)?;
        checks::no_session_cookie(&ctx.target, &me)?;
        expect_no_token(&me)?;
        expect_vary_both(&me)?;

        // Header only, asking for a token with an empty bearer: a token, no cookie.
        let login = ctx
            .send_headers(
                Method::POST,
                "/both/login",
                &[(AUTHORIZATION.as_str(), "Bearer")],
                Body::Form(format!("user={api_user}")),
            )
            .await?;
        login.expect_status(StatusCode::NO_CONTENT)?;
        checks::no_set_cookie_at_all(&login)?;
        expect_vary_both(&login)?;
        let Some(token) = returned_token(&login).filter(|t| !t.is_empty()) else {
            return Err(Failure::failed(format!(
                "POST /both/login with an empty bearer: expected a Session-Token, got {:?}",
                login.headers
            )));
        };
        let bearer = format!("Bearer {token}");
        let me = request(
            ctx,
            Method::GET,
            "/both/whoami",
            &[(AUTHORIZATION.as_str(), &bearer)],
        )
        .await?;
        me.expect_text(&api_user)?;
        checks::no_set_cookie_at_all(&me)?;
        expect_no_token(&me)?;
        expect_vary_both(&me)?;

        // Both, naming different sessions: the header wins and the cookie is left alone.
        let both = [
            (AUTHORIZATION.as_str(), bearer.as_str()),
            (COOKIE.as_str(), cookie.as_str()),
        ];
        let me = request(ctx, Method::GET, "/both/whoami", &both).await?;
        me.expect_text(&api_user)?;
        checks::no_set_cookie_at_all(&me)?;
        // A header that carries no bearer token is a present, unknown token: the cookie
        // is not consulted in its place.
        let other_scheme = [
            (AUTHORIZATION.as_str(), "Basic dXNlcjpwYXNz"),
            (COOKIE.as_str(), cookie.as_str()),
        ];
        let me = request(ctx, Method::GET, "/both/whoami", &other_scheme).await?;
        me.expect_status(StatusCode::UNAUTHORIZED)?;
        checks::no_set_cookie_at_all(&me)?;

        // Logout with both: the token's session goes, removal in the header only.
        let logout = request(ctx, Method::POST, "/both/logout", &both).await?;
        logout.expect_status(StatusCode::NO_CONTENT)?;
        checks::no_set_cookie_at_all(&logout)?;
        ensure(returned_token(&logout).as_deref() == Some(""), || {
            format!(
                "POST /both/logout with a bearer token: expected an empty Session-Token \
                 (removal), got {:?}",
                returned_token(&logout)
            )
        })?;
        request(
            ctx,
            Method::GET,
            "/both/whoami",
            &[(AUTHORIZATION.as_str(), &bearer)],
        )
        .await?
        .expect_status(StatusCode::UNAUTHORIZED)?;
        request(
            ctx,
            Method::GET,
            "/both/whoami",
            &[(COOKIE.as_str(), &cookie)],
        )
        .await?
        .expect_text(&browser_user)?;

        // Logout with the cookie: a removal cookie, no token header.
        let logout = request(
            ctx,
            Method::POST,
            "/both/logout",
            &[(COOKIE.as_str(), &cookie)],
        )
        .await?;
        logout.expect_status(StatusCode::NO_CONTENT)?;
        checks::removal_cookie(&ctx.target, &logout)?;
        expect_no_token(&logout)?;
        request(
            ctx,
            Method::GET,
            "/both/whoami",
            &[(COOKIE.as_str(), &cookie)],
        )
        .await?
        .expect_status(StatusCode::UNAUTHORIZED)?;
        Ok(())
    })
}
