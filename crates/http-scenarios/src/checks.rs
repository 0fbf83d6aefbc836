//! What a session `Set-Cookie` must look like: the attributes the target was configured with,
//! on every cookie that hands out, rewrites or removes the session ID.

use cookie::{Cookie, SameSite};

use crate::Target;
use crate::client::Reply;
use crate::scenarios::Failure;

/// The single session `Set-Cookie` of `reply`, parsed; fails when there is none or several.
fn one_session_cookie(target: &Target, reply: &Reply) -> Result<Cookie<'static>, Failure> {
    let lines = reply.session_set_cookies(&target.cookie_name);
    let line = match lines.as_slice() {
        [line] => line,
        [] => {
            return Err(Failure::failed(format!(
                "{}: expected a Set-Cookie for `{}`, got none (status {}, all Set-Cookie: {:?})",
                reply.request,
                target.cookie_name,
                reply.status,
                reply.set_cookie_lines()
            )));
        }
        _ => {
            return Err(Failure::failed(format!(
                "{}: expected one Set-Cookie for `{}`, got {lines:?}",
                reply.request, target.cookie_name
            )));
        }
    };
    let cookie = Cookie::parse(line.clone()).map_err(|e| {
        Failure::failed(format!(
            "{}: Set-Cookie does not parse ({e}): {line:?}",
            reply.request
        ))
    })?;
    if !reply.no_store() {
        return Err(Failure::failed(format!(
            "{}: sets the session cookie without `Cache-Control: no-store` (got {:?})",
            reply.request,
            reply.headers.get_all(http::header::CACHE_CONTROL)
        )));
    }
    if !reply.varies_on_cookie() {
        return Err(Failure::failed(format!(
            "{}: sets the session cookie without `Vary: Cookie` (got {:?})",
            reply.request,
            reply.headers.get_all(http::header::VARY)
        )));
    }
    check_common(target, reply, &cookie, line)?;
    Ok(cookie)
}

/// The attributes shared by a session cookie and its removal.
fn check_common(
    target: &Target,
    reply: &Reply,
    cookie: &Cookie<'_>,
    line: &str,
) -> Result<(), Failure> {
    let wrong = |what: String| {
        Err(Failure::failed(format!(
            "{}: Set-Cookie {what}: {line:?}",
            reply.request
        )))
    };
    if cookie.path() != Some(target.cookie_path.as_str()) {
        return wrong(format!("should have Path={}", target.cookie_path));
    }
    if cookie.http_only() != Some(true) {
        return wrong("should be HttpOnly".into());
    }
    if cookie.secure().unwrap_or(false) != target.secure {
        return wrong(if target.secure {
            "should be Secure".into()
        } else {
            "should not be Secure (the target is configured without it)".into()
        });
    }
    if cookie.same_site() != Some(SameSite::Lax) {
        return wrong("should have SameSite=Lax".into());
    }
    let expected_domain = target
        .domain
        .as_deref()
        .map(|d| d.trim_start_matches('.').to_ascii_lowercase());
    let domain = cookie.domain().map(str::to_ascii_lowercase);
    if domain != expected_domain {
        return wrong(match &expected_domain {
            Some(d) => format!("should have Domain={d}"),
            None => "should have no Domain (host-only cookie)".into(),
        });
    }
    Ok(())
}

/// Checks that `reply` hands out a session cookie with every configured attribute and no
/// lifetime (a browser-session cookie), and returns the session ID it carries.
pub(crate) fn new_cookie(target: &Target, reply: &Reply) -> Result<String, Failure> {
    let cookie = one_session_cookie(target, reply)?;
    let fail = |what: &str| {
        Err(Failure::failed(format!(
            "{}: session Set-Cookie {what}: {cookie}",
            reply.request
        )))
    };
    if cookie.value().is_empty() {
        return fail("has an empty value where a session ID was expected");
    }
    if cookie.max_age().is_some() {
        return fail("has a Max-Age, but a browser-session cookie has none");
    }
    if cookie.expires().is_some() {
        return fail("has an Expires, but a browser-session cookie has none");
    }
    Ok(cookie.value().to_owned())
}

/// Checks that `reply` hands out a persistent session cookie (remember-me) with every
/// configured attribute and a positive `Max-Age`; returns the session ID and the `Max-Age`
/// in seconds.
pub(crate) fn persistent_cookie(target: &Target, reply: &Reply) -> Result<(String, i64), Failure> {
    let cookie = one_session_cookie(target, reply)?;
    let max_age = cookie.max_age().map(|d| d.whole_seconds());
    match max_age {
        Some(secs) if secs > 0 && !cookie.value().is_empty() => {
            Ok((cookie.value().to_owned(), secs))
        }
        _ => Err(Failure::failed(format!(
            "{}: expected a persistent session cookie (a session ID and a positive Max-Age): {cookie}",
            reply.request
        ))),
    }
}

/// Checks that `reply` removes the session cookie: empty value, `Max-Age=0`, and the same
/// Path, Domain, Secure, SameSite and HttpOnly as when it was set.
pub(crate) fn removal_cookie(target: &Target, reply: &Reply) -> Result<(), Failure> {
    let cookie = one_session_cookie(target, reply)?;
    if !cookie.value().is_empty() {
        return Err(Failure::failed(format!(
            "{}: a removal cookie should have an empty value: {cookie}",
            reply.request
        )));
    }
    if cookie.max_age().map(|d| d.whole_seconds()) != Some(0) {
        return Err(Failure::failed(format!(
            "{}: a removal cookie should have Max-Age=0: {cookie}",
            reply.request
        )));
    }
    Ok(())
}

/// Checks that `reply` does not touch the session cookie.
pub(crate) fn no_session_cookie(target: &Target, reply: &Reply) -> Result<(), Failure> {
    let lines = reply.session_set_cookies(&target.cookie_name);
    if lines.is_empty() {
        Ok(())
    } else {
        Err(Failure::failed(format!(
            "{}: expected no Set-Cookie for `{}`, got {lines:?}",
            reply.request, target.cookie_name
        )))
    }
}

/// Checks that `reply` sends no `Set-Cookie` at all.
pub(crate) fn no_set_cookie_at_all(reply: &Reply) -> Result<(), Failure> {
    let lines = reply.set_cookie_lines();
    if lines.is_empty() {
        Ok(())
    } else {
        Err(Failure::failed(format!(
            "{}: expected no Set-Cookie at all, got {lines:?}",
            reply.request
        )))
    }
}

/// Every reply that sets the session cookie, or returns a session token in its header (or
/// its removal), must forbid caching; checked on every request.
pub(crate) fn cache_control(target: &Target, reply: &Reply) -> Result<(), Failure> {
    if !reply.session_set_cookies(&target.cookie_name).is_empty() && !reply.no_store() {
        return Err(Failure::failed(format!(
            "{}: sets the session cookie without `Cache-Control: no-store`",
            reply.request
        )));
    }
    if reply.headers.contains_key(TOKEN_RESPONSE_HEADER) && !reply.no_store() {
        return Err(Failure::failed(format!(
            "{}: returns a session token without `Cache-Control: no-store`",
            reply.request
        )));
    }
    Ok(())
}

/// The response header of the demos' token transport (core's default).
pub(crate) const TOKEN_RESPONSE_HEADER: &str = "session-token";
