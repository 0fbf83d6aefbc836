//! How the session ID travels: in the session cookie (the default), in a request header for
//! API clients, or either.
//!
//! [`Transport`] is chosen per manager ([`crate::Options::transport`], `TRANSPORT = cookie`,
//! `header` or `both`) and overridden per route by the adapters (before the handler runs,
//! with [`crate::Session::set_transport`]).
//!
//! - **`cookie`**: the rules of [`crate::cookies`] and [`crate::response`], unchanged.
//! - **`header`**: the ID (in its signed form when signing keys are set, exactly the value a
//!   cookie would carry) is read from the request header [`crate::Options::token_header`]
//!   only, never from a cookie: a request that carries only the cookie has no session.
//!   `Authorization` (the default) takes the `Bearer` scheme, `Authorization: Bearer <token>`;
//!   any other name (for example `X-Session-Token`) carries the bare token. A new or
//!   rotated token is sent in the response header [`crate::Options::token_response_header`]
//!   (`Session-Token: <token>` by default); the removal of the session (destroy, flush) is
//!   signalled by the same header **with an empty value** (`Session-Token: `), which tells
//!   the client to forget its token. No cookie is ever read, set or removed.
//! - **`both`**: the header wins when the request carries it, else the cookie is used. The
//!   response answers in the transport the request used: a header request gets its token in
//!   the response header, a cookie request (or one with neither) gets `Set-Cookie`. An API
//!   client that has no token yet and wants one in a header sends the header empty
//!   (`Authorization: Bearer` or `X-Session-Token:`).
//!
//! The cookie rules have their header equivalents ([`crate::response`]): a response that
//! carries a token (or its removal) gets `Cache-Control: no-store`, and every response of a
//! `header` or `both` request that used its session gets `Vary: <token header>` (and under
//! `both`, `Vary: Cookie` too), since its content depends on that header.
//!
//! A header carrying anything that cannot be a token (several lines, another scheme, a `;`)
//! counts as present and unknown: the request has no session and, under `both`, the cookie
//! is not consulted either.

use std::str::FromStr;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::options::Options;

/// The request header that carries the token by default.
pub const DEFAULT_TOKEN_HEADER: &str = "Authorization";

/// The response header that returns a new token, or signals its removal, by default.
pub const DEFAULT_TOKEN_RESPONSE_HEADER: &str = "Session-Token";

/// Where a request's session ID travels. See the [module documentation](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Transport {
    /// The session cookie (the default).
    #[default]
    Cookie,
    /// A request header only; new tokens come back in a response header.
    Header,
    /// The header when the request carries it, else the cookie.
    Both,
}

impl Transport {
    /// The transport's name in configuration: `cookie`, `header` or `both`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Transport::Cookie => "cookie",
            Transport::Header => "header",
            Transport::Both => "both",
        }
    }

    pub(crate) const fn to_u8(self) -> u8 {
        match self {
            Transport::Cookie => 0,
            Transport::Header => 1,
            Transport::Both => 2,
        }
    }

    pub(crate) const fn from_u8(value: u8) -> Self {
        match value {
            1 => Transport::Header,
            2 => Transport::Both,
            _ => Transport::Cookie,
        }
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Transport {
    type Err = Error;

    /// `cookie`, `header` or `both`, in any case.
    fn from_str(value: &str) -> Result<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "cookie" => Ok(Transport::Cookie),
            "header" => Ok(Transport::Header),
            "both" => Ok(Transport::Both),
            _ => Err(Error::config(
                "transport",
                format!("expected cookie, header or both, got {value:?}"),
            )),
        }
    }
}

/// The header names of the token transport, shared by every commit of a manager so that a
/// response's [`TokenHeaders`] costs no copy of them.
#[derive(Debug, Clone)]
pub(crate) struct TokenNames {
    pub(crate) request: Arc<str>,
    pub(crate) response: Arc<str>,
    /// `request` for the `http` crate's header maps. [`Options::validate`] checked the
    /// name, so the fallback is never taken.
    #[cfg(feature = "http")]
    pub(crate) http: http::HeaderName,
}

impl TokenNames {
    pub(crate) fn new(options: &Options) -> Self {
        TokenNames {
            request: options.token_header.as_str().into(),
            response: options.token_response_header.as_str().into(),
            #[cfg(feature = "http")]
            http: http::HeaderName::from_bytes(options.token_header.as_bytes())
                .unwrap_or(http::header::AUTHORIZATION),
        }
    }
}

/// What a response must carry for a request under `header` or `both` transport that used
/// its session; part of [`crate::Commit`]. [`crate::Commit::write_headers`] writes it.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenHeaders {
    /// The token to return in [`TokenHeaders::response_header`]: a new or rotated token, an
    /// empty string to signal that the session is gone, or `None` to send no token.
    pub token: Option<String>,
    /// The response header that carries [`TokenHeaders::token`] (`Session-Token`).
    pub response_header: Arc<str>,
    /// The request header the response depends on, for `Vary` (`Authorization`).
    pub request_header: Arc<str>,
    /// Whether the response depends on the cookie too (`both` transport), for `Vary`.
    pub vary_cookie: bool,
}

impl std::fmt::Debug for TokenHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a session ID: it stays out of logs.
        let token = self.token.as_ref().map(|t| {
            if t.is_empty() {
                "<removal>"
            } else {
                "<redacted>"
            }
        });
        f.debug_struct("TokenHeaders")
            .field("token", &token)
            .field("response_header", &self.response_header)
            .field("request_header", &self.request_header)
            .field("vary_cookie", &self.vary_cookie)
            .finish()
    }
}

/// What the token header of a request holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Presented<'a> {
    /// The request has no token header.
    Absent,
    /// The header is there; its token (empty when it cannot be one).
    Token(&'a [u8]),
}

/// The token in the lines of the token header named `header`: under `Authorization`, the
/// credentials of the `Bearer` scheme; under any other name, the trimmed value.
pub(crate) fn presented<'a>(
    header: &str,
    mut lines: impl Iterator<Item = &'a [u8]>,
) -> Presented<'a> {
    let Some(line) = lines.next() else {
        return Presented::Absent;
    };
    if lines.next().is_some() {
        // Two tokens: which one the client meant is a guess, and a guess must not adopt.
        return Presented::Token(b"");
    }
    let mut value = line.trim_ascii();
    if header.eq_ignore_ascii_case(DEFAULT_TOKEN_HEADER) {
        value = bearer(value).unwrap_or_default();
    }
    if value.contains(&b';') {
        // `;` separates candidates inside core; a token never holds one.
        value = b"";
    }
    Presented::Token(value)
}

/// The credentials of an `Authorization` value of the `Bearer` scheme (any case), trimmed.
fn bearer(value: &[u8]) -> Option<&[u8]> {
    const SCHEME: &[u8] = b"bearer";
    let scheme = value.get(..SCHEME.len())?;
    if !scheme.eq_ignore_ascii_case(SCHEME) {
        return None;
    }
    let rest = &value[SCHEME.len()..];
    // `Bearer` alone is an empty token; `Bearerx` is another scheme.
    match rest.first() {
        None => Some(rest),
        Some(b' ' | b'\t') => Some(rest.trim_ascii()),
        Some(_) => None,
    }
}

/// Checks a configured header name: an RFC 9110 token, and not one of the headers core
/// writes itself or the cookie headers.
pub(crate) fn validate_header_name(field: &'static str, name: &str) -> Result<()> {
    let token = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !token {
        return Err(Error::config(
            field,
            "must be a header name (letters, digits and !#$%&'*+-.^_`|~)",
        ));
    }
    const RESERVED: [&str; 6] = [
        "cookie",
        "set-cookie",
        "cache-control",
        "vary",
        "content-type",
        "content-length",
    ];
    if RESERVED.iter().any(|r| name.eq_ignore_ascii_case(r)) {
        return Err(Error::config(
            field,
            format!("{name} is a header the session layer already uses otherwise"),
        ));
    }
    Ok(())
}

/// Loading from the header map of the `http` crate, which axum, poem and hyper share
/// (feature `http`).
#[cfg(feature = "http")]
impl crate::Manager {
    /// The token header as an `http` header name, parsed once when the manager was built.
    pub fn http_token_header(&self) -> &http::HeaderName {
        &self.inner.token_names.http
    }

    /// [`crate::Manager::load_bytes`] from a request's headers: its `Cookie` lines, and the
    /// lines of the token header when the manager's transport is not `cookie` (a route that
    /// switches transport reads them itself: a cookie-only application pays for no lookup).
    pub fn load_http(&self, headers: &http::HeaderMap) -> crate::Session {
        let cookies = headers
            .get_all(http::header::COOKIE)
            .iter()
            .map(http::HeaderValue::as_bytes);
        if self.options().transport == Transport::Cookie {
            return self.load_bytes(cookies);
        }
        self.load_with_token(cookies, token_lines(self, headers))
    }
}

/// The lines of `manager`'s token header in `headers` (feature `http`), for
/// [`crate::Session::present_token`].
#[cfg(feature = "http")]
pub fn token_lines<'h>(
    manager: &crate::Manager,
    headers: &'h http::HeaderMap,
) -> impl Iterator<Item = &'h [u8]> {
    headers
        .get_all(manager.http_token_header())
        .iter()
        .map(http::HeaderValue::as_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token<'a>(header: &str, lines: &[&'a str]) -> Presented<'a> {
        presented(header, lines.iter().map(|l| l.as_bytes()))
    }

    #[test]
    fn parses_its_own_names_in_any_case_and_nothing_else() {
        for transport in [Transport::Cookie, Transport::Header, Transport::Both] {
            assert_eq!(
                transport.as_str().parse::<Transport>().ok(),
                Some(transport)
            );
            assert_eq!(
                transport.as_str().to_uppercase().parse::<Transport>().ok(),
                Some(transport)
            );
            assert_eq!(Transport::from_u8(transport.to_u8()), transport);
        }
        for bad in ["", "cookies", "bearer", "header,cookie"] {
            assert!(
                matches!(bad.parse::<Transport>(), Err(Error::Config { field, .. }) if field == "transport"),
                "{bad:?}"
            );
        }
        assert_eq!(Transport::default(), Transport::Cookie);
    }

    #[test]
    fn authorization_takes_the_bearer_scheme_only() {
        assert_eq!(token("Authorization", &[]), Presented::Absent);
        assert_eq!(
            token("authorization", &["Bearer abc"]),
            Presented::Token(b"abc")
        );
        assert_eq!(
            token("Authorization", &["bEaReR \t abc  "]),
            Presented::Token(b"abc")
        );
        for unusable in ["Basic Zm9vOmJhcg==", "Bearerabc", "abc", "Bearer a;b", ""] {
            assert_eq!(
                token("Authorization", &[unusable]),
                Presented::Token(b""),
                "{unusable:?}"
            );
        }
        assert_eq!(token("Authorization", &["Bearer"]), Presented::Token(b""));
    }

    #[test]
    fn other_headers_carry_the_bare_token_and_two_lines_are_none() {
        assert_eq!(
            token("X-Session-Token", &[" abc "]),
            Presented::Token(b"abc")
        );
        assert_eq!(
            token("X-Session-Token", &["Bearer abc"]),
            Presented::Token(b"Bearer abc")
        );
        assert_eq!(
            token("X-Session-Token", &["abc", "abc"]),
            Presented::Token(b"")
        );
    }

    #[test]
    fn header_names_must_be_tokens_the_layer_does_not_use() {
        for good in ["Authorization", "X-Session-Token", "Session-Token"] {
            assert!(validate_header_name("token_header", good).is_ok(), "{good}");
        }
        for bad in ["", "X Token", "X-Token\r\n", "Set-Cookie", "cookie", "VARY"] {
            assert!(
                validate_header_name("token_header", bad).is_err(),
                "{bad:?}"
            );
        }
    }
}
