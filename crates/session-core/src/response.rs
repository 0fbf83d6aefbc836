//! What a response carries because of the session, decided once for every adapter.
//!
//! An adapter runs the handler, commits the session, and then only translates:
//!
//! - on success, [`Commit::write_headers`] writes the session's headers into the response
//!   through the adapter's [`ResponseHeaders`] (a few lines over its framework's header map);
//! - on failure, the [`Error`] gives the status ([`Error::http_status`]), a body that reveals
//!   nothing ([`Error::public_message`]), the headers of an error answer
//!   ([`Error::write_headers`]) and how loudly to log it ([`Error::log_level`], [`Error::log`]).
//!
//! Core knows no HTTP crate: statuses are `u16`, header names a small [`HeaderName`] enum,
//! values `&str`. The optional feature `http` implements [`ResponseHeaders`] for the `http`
//! crate's `HeaderMap`, which axum, poem and hyper share, so those adapters write nothing of
//! their own; actix-web has its own header types and a few lines of translation.
//!
//! # The rule
//!
//! - A response that sets, rewrites or removes the session cookie gets the `Set-Cookie` line,
//!   `Cache-Control: no-store` (replacing whatever the handler set: a cached copy would hand
//!   one user's session ID to the next) and `Vary: Cookie` (unless `Vary` already lists
//!   `Cookie` or `*`). A response that does not touch the cookie is left as the handler made
//!   it.
//! - Under `header` or `both` transport ([`crate::transport`]) the same rule has its header
//!   equivalent: a response that returns a token, or signals its removal with an empty one,
//!   gets the token header (`Session-Token` by default) and `Cache-Control: no-store`; every
//!   response of a request that used its session gets `Vary: <token header>` (`Vary:
//!   Authorization` by default), and under `both` `Vary: Cookie` too, since its content
//!   depends on them.
//! - A failed commit answers with the error's response and **no** `Set-Cookie`: an outage must
//!   never replace or remove the client's ID.
//! - Statuses: backend failures (the store is down, conflicts never settled, a full store) are
//!   503, which a client may retry with its cookie; so is a write refused because the session
//!   is served read-only during an outage ([`Error::Degraded`], with its own message, so a
//!   client or an operator can tell "your change was not saved" from "nothing was served"); a record over `max_record_size` is the
//!   client's doing and is 413; a login over the per-owner session cap
//!   ([`Error::SessionLimit`]) is 409; an ill-formed session ID given to an API call is 400;
//!   everything else is a bug or a misconfiguration of the server, 500.
//! - Log levels: client errors at `INFO` (they are not the server's problem, but a flood of
//!   them is worth seeing), backend failures at `WARN` (the service degrades, the code is
//!   fine), everything else at `ERROR` (someone has to fix something).
//!
//! # Example
//!
//! An adapter's translation, over a toy header map:
//!
//! ```
//! use std::sync::Arc;
//! use session_core::response::{HeaderName, ResponseHeaders};
//! use session_core::{Manager, Options, SystemClock};
//! use session_memory::MemoryStore;
//!
//! #[derive(Default)]
//! struct Headers(Vec<(HeaderName, String)>);
//!
//! impl ResponseHeaders for Headers {
//!     fn append(&mut self, name: HeaderName, value: &str) -> bool {
//!         self.0.push((name, value.to_owned()));
//!         true
//!     }
//!     fn remove(&mut self, name: HeaderName) {
//!         self.0.retain(|(n, _)| *n != name);
//!     }
//!     fn get_all(&self, name: HeaderName) -> impl Iterator<Item = &[u8]> {
//!         self.0.iter().filter(move |(n, _)| *n == name).map(|(_, v)| v.as_bytes())
//!     }
//!     fn append_other(&mut self, _name: &str, _value: &str) -> bool {
//!         false // this example runs under the cookie transport only
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> session_core::Result<()> {
//! # let store = Arc::new(MemoryStore::default());
//! let manager = Manager::with_store(Options::default(), store, Arc::new(SystemClock))?;
//! // A new session that holds data sets its cookie, so the answer must not be cached.
//! let session = manager.load([]);
//! session.set("user", "gopher").await?;
//! let commit = session.commit().await?;
//! assert!(commit.sets_cookie());
//! let mut headers = Headers::default();
//! commit.write_headers(&mut headers)?;
//! let names: Vec<_> = headers.0.iter().map(|(n, _)| n.as_str()).collect();
//! assert_eq!(names, ["set-cookie", "cache-control", "vary"]);
//!
//! // Reading it back touches no cookie: the response stays as the handler made it.
//! let cookie = &headers.0[0].1;
//! let session = manager.load([cookie.as_str()]);
//! assert_eq!(session.get::<String>("user").await?.as_deref(), Some("gopher"));
//! let commit = session.commit().await?;
//! assert!(!commit.sets_cookie());
//! let mut headers = Headers::default();
//! commit.write_headers(&mut headers)?;
//! assert!(headers.0.is_empty());
//! # Ok(())
//! # }
//! ```

use tracing::Level;

use crate::transport::TokenHeaders;
use crate::{Commit, Error, Result};

/// The headers core asks an adapter to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeaderName {
    /// `Set-Cookie`.
    SetCookie,
    /// `Cache-Control`.
    CacheControl,
    /// `Vary`.
    Vary,
    /// `Content-Type`.
    ContentType,
}

impl HeaderName {
    /// The name in lowercase, as HTTP/2 writes it.
    pub const fn as_str(self) -> &'static str {
        match self {
            HeaderName::SetCookie => "set-cookie",
            HeaderName::CacheControl => "cache-control",
            HeaderName::Vary => "vary",
            HeaderName::ContentType => "content-type",
        }
    }
}

/// A framework's response header map, as core writes into it. An adapter implements it over
/// its own header type and holds no rule of its own.
pub trait ResponseHeaders {
    /// Adds a `name: value` line after the lines of that name already there. Returns false,
    /// adding nothing, when `value` is not a valid header value for the framework.
    fn append(&mut self, name: HeaderName, value: &str) -> bool;

    /// Removes every line named `name`.
    fn remove(&mut self, name: HeaderName);

    /// The values of the lines named `name`, as they will be sent.
    fn get_all(&self, name: HeaderName) -> impl Iterator<Item = &[u8]>;

    /// Adds a `name: value` line for a header named by the configuration (the token header
    /// of [`crate::transport`]). Returns false, adding nothing, when the framework refuses
    /// the name or the value.
    fn append_other(&mut self, name: &str, value: &str) -> bool;
}

/// The `Cache-Control` of every response that sets the session cookie, and of error answers.
pub const NO_STORE: &str = "no-store";

/// The `Content-Type` of an error answer's body ([`Error::public_message`]).
pub const ERROR_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

impl Commit {
    /// Whether the response sets, rewrites or removes the session cookie, and so must not be
    /// stored by any cache.
    pub fn sets_cookie(&self) -> bool {
        self.set_cookie.is_some()
    }

    /// Whether the response returns a session token in a header, or signals its removal,
    /// and so must not be stored by any cache either.
    pub fn sends_token(&self) -> bool {
        self.token.as_ref().is_some_and(|t| t.token.is_some())
    }

    /// Writes what the response must carry for this commit into `headers`: nothing when the
    /// cookie is untouched; otherwise the `Set-Cookie` line, `Cache-Control: no-store` in
    /// place of any other `Cache-Control`, and `Vary: Cookie` unless `Vary` already covers it.
    ///
    /// Fails, writing nothing, when the framework refuses the `Set-Cookie` value. Core
    /// validates every cookie attribute when the options are built, so that is a bug; the
    /// adapter then answers with the error instead of sending a response without its cookie.
    ///
    /// Under `header` or `both` transport it also writes the token header (with
    /// `Cache-Control: no-store`) when a token is returned or removed, and `Vary` on the
    /// token header (and the cookie, under `both`) whenever the handler used the session.
    pub fn write_headers(&self, headers: &mut impl ResponseHeaders) -> Result<()> {
        if let Some(set_cookie) = &self.set_cookie {
            write_cookie_headers(set_cookie, headers)?;
        }
        if let Some(token) = &self.token {
            write_token_headers(token, headers)?;
        }
        Ok(())
    }
}

/// [`Commit::write_headers`] for the token transport.
fn write_token_headers(token: &TokenHeaders, headers: &mut impl ResponseHeaders) -> Result<()> {
    if let Some(value) = &token.token {
        if !headers.append_other(&token.response_header, value) {
            return Err(Error::config(
                "token_response_header",
                "the token header line is not a valid header",
            ));
        }
        replace(headers, HeaderName::CacheControl, NO_STORE);
    }
    if !varies_on(headers.get_all(HeaderName::Vary), &token.request_header) {
        headers.append(HeaderName::Vary, &token.request_header);
    }
    if token.vary_cookie && !varies_on(headers.get_all(HeaderName::Vary), "Cookie") {
        headers.append(HeaderName::Vary, "Cookie");
    }
    Ok(())
}

/// [`Commit::write_headers`] for a commit that sends `set_cookie`.
fn write_cookie_headers(set_cookie: &str, headers: &mut impl ResponseHeaders) -> Result<()> {
    if !headers.append(HeaderName::SetCookie, set_cookie) {
        return Err(Error::config(
            "cookie",
            "the Set-Cookie line is not a valid header value",
        ));
    }
    replace(headers, HeaderName::CacheControl, NO_STORE);
    if !varies_on(headers.get_all(HeaderName::Vary), "Cookie") {
        headers.append(HeaderName::Vary, "Cookie");
    }
    Ok(())
}

impl Error {
    /// The status the error is answered with: 503 for a backend failure or a write refused
    /// during an outage, 413 for a record over `max_record_size`, 409 for a login over the
    /// per-owner session cap, 400 for an ill-formed
    /// session ID, 500 otherwise.
    pub fn http_status(&self) -> u16 {
        match self {
            _ if self.is_backend() => 503,
            Error::Degraded { .. } => 503,
            Error::TooLarge { .. } => 413,
            Error::SessionLimit { .. } => 409,
            Error::InvalidId(_) => 400,
            _ => 500,
        }
    }

    /// A short body for [`Error::http_status`]. It never holds the error's details (they can
    /// name hosts, keys or sizes, and belong in the log) nor a session ID.
    pub fn public_message(&self) -> &'static str {
        if self.is_degraded() {
            return "session store unavailable: changes not saved";
        }
        match self.http_status() {
            503 => "session store unavailable",
            413 => "session data too large",
            409 => "too many sessions for this user",
            400 => "invalid session id",
            _ => "session error",
        }
    }

    /// How loudly the error is logged: `INFO` for a client's mistake (4xx), `WARN` for a
    /// backend failure (503), `ERROR` for what the server must fix (500).
    pub fn log_level(&self) -> Level {
        match self.http_status() {
            400..=499 => Level::INFO,
            503 => Level::WARN,
            _ => Level::ERROR,
        }
    }

    /// Logs the error at [`Error::log_level`], with `context` saying where it surfaced (for
    /// example "session commit failed").
    pub fn log(&self, context: &'static str) {
        let level = self.log_level();
        let status = self.http_status();
        if level == Level::INFO {
            tracing::info!(error = %self, status, "{context}");
        } else if level == Level::WARN {
            tracing::warn!(error = %self, status, "{context}");
        } else {
            tracing::error!(error = %self, status, "{context}");
        }
    }

    /// Writes the headers of the error's answer into `headers`: its body is
    /// [`ERROR_CONTENT_TYPE`], and `Cache-Control: no-store` keeps a cache from serving an
    /// outage after it ended.
    pub fn write_headers(&self, headers: &mut impl ResponseHeaders) {
        replace(headers, HeaderName::ContentType, ERROR_CONTENT_TYPE);
        replace(headers, HeaderName::CacheControl, NO_STORE);
    }
}

/// Replaces every `name` line with `name: value`, for core's constant values (which every
/// framework accepts).
fn replace(headers: &mut impl ResponseHeaders, name: HeaderName, value: &'static str) {
    headers.remove(name);
    headers.append(name, value);
}

/// Whether `Vary` lines already make caches key on request header `name` (`name` or `*`).
fn varies_on<'a>(vary: impl Iterator<Item = &'a [u8]>, name: &str) -> bool {
    vary.flat_map(|line| line.split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .any(|field| field == b"*" || field.eq_ignore_ascii_case(name.as_bytes()))
}

/// The header map of the `http` crate, which axum, poem and hyper share (feature `http`).
#[cfg(feature = "http")]
impl ResponseHeaders for http::HeaderMap {
    fn append(&mut self, name: HeaderName, value: &str) -> bool {
        http::HeaderValue::from_str(value)
            .map(|value| http::HeaderMap::append(self, http_name(name), value))
            .is_ok()
    }

    fn remove(&mut self, name: HeaderName) {
        http::HeaderMap::remove(self, http_name(name));
    }

    fn get_all(&self, name: HeaderName) -> impl Iterator<Item = &[u8]> {
        http::HeaderMap::get_all(self, http_name(name))
            .iter()
            .map(http::HeaderValue::as_bytes)
    }

    fn append_other(&mut self, name: &str, value: &str) -> bool {
        match (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => {
                http::HeaderMap::append(self, name, value);
                true
            }
            _ => false,
        }
    }
}

#[cfg(feature = "http")]
fn http_name(name: HeaderName) -> http::HeaderName {
    use http::header::{CACHE_CONTROL, CONTENT_TYPE, SET_COOKIE, VARY};
    match name {
        HeaderName::SetCookie => SET_COOKIE,
        HeaderName::CacheControl => CACHE_CONTROL,
        HeaderName::Vary => VARY,
        HeaderName::ContentType => CONTENT_TYPE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header map that keeps lines in order and refuses values with a control character;
    /// lines of configured names are kept apart, in `other`.
    #[derive(Default)]
    struct Lines(Vec<(HeaderName, String)>, Vec<(String, String)>);

    impl ResponseHeaders for Lines {
        fn append(&mut self, name: HeaderName, value: &str) -> bool {
            if value.bytes().any(|b| b.is_ascii_control()) {
                return false;
            }
            self.0.push((name, value.to_owned()));
            true
        }
        fn remove(&mut self, name: HeaderName) {
            self.0.retain(|(n, _)| *n != name);
        }
        fn get_all(&self, name: HeaderName) -> impl Iterator<Item = &[u8]> {
            self.0
                .iter()
                .filter(move |(n, _)| *n == name)
                .map(|(_, v)| v.as_bytes())
        }
        fn append_other(&mut self, name: &str, value: &str) -> bool {
            if value.bytes().any(|b| b.is_ascii_control()) {
                return false;
            }
            self.1.push((name.to_owned(), value.to_owned()));
            true
        }
    }

    impl Lines {
        fn with(lines: &[(HeaderName, &str)]) -> Self {
            Lines(
                lines.iter().map(|(n, v)| (*n, (*v).to_owned())).collect(),
                Vec::new(),
            )
        }
        fn values(&self, name: HeaderName) -> Vec<&str> {
            self.0
                .iter()
                .filter(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
                .collect()
        }
    }

    #[test]
    fn a_set_cookie_comes_with_no_store_in_place_of_any_cache_control_and_vary_cookie() {
        let mut headers = Lines::with(&[
            (HeaderName::SetCookie, "theme=dark"),
            (HeaderName::CacheControl, "public, max-age=60"),
            (HeaderName::Vary, "Accept-Encoding"),
        ]);
        write_cookie_headers("session=abc; Path=/", &mut headers).unwrap();
        assert_eq!(
            headers.values(HeaderName::SetCookie),
            ["theme=dark", "session=abc; Path=/"]
        );
        assert_eq!(headers.values(HeaderName::CacheControl), ["no-store"]);
        assert_eq!(
            headers.values(HeaderName::Vary),
            ["Accept-Encoding", "Cookie"]
        );
    }

    #[test]
    fn vary_is_not_repeated_when_it_already_covers_the_cookie() {
        for vary in ["cookie", "Accept, COOKIE", " * ", "Origin,Cookie"] {
            let mut headers = Lines::with(&[(HeaderName::Vary, vary)]);
            write_cookie_headers("s=1", &mut headers).unwrap();
            assert_eq!(headers.values(HeaderName::Vary), [vary], "{vary:?}");
        }
        let mut headers = Lines::with(&[(HeaderName::Vary, "Cookies, X-Cookie")]);
        write_cookie_headers("s=1", &mut headers).unwrap();
        assert_eq!(
            headers.values(HeaderName::Vary),
            ["Cookies, X-Cookie", "Cookie"]
        );
    }

    #[test]
    fn a_refused_set_cookie_is_an_error_and_writes_nothing() {
        let mut headers = Lines::default();
        let err = write_cookie_headers("s=1\r\nX-Injected: 1", &mut headers).unwrap_err();
        assert_eq!(err.http_status(), 500);
        assert!(headers.0.is_empty());
    }

    fn token_headers(token: Option<&str>, vary_cookie: bool) -> Commit {
        Commit {
            set_cookie: None,
            token: Some(TokenHeaders {
                token: token.map(str::to_owned),
                response_header: "Session-Token".into(),
                request_header: "Authorization".into(),
                vary_cookie,
            }),
        }
    }

    #[test]
    fn a_returned_token_comes_with_no_store_and_vary_on_its_header() {
        let mut headers = Lines::with(&[
            (HeaderName::CacheControl, "public, max-age=60"),
            (HeaderName::Vary, "Accept-Encoding"),
        ]);
        let commit = token_headers(Some("abc"), false);
        assert!(commit.sends_token() && !commit.sets_cookie());
        commit.write_headers(&mut headers).unwrap();
        assert_eq!(headers.1, [("Session-Token".to_owned(), "abc".to_owned())]);
        assert_eq!(headers.values(HeaderName::CacheControl), ["no-store"]);
        assert_eq!(
            headers.values(HeaderName::Vary),
            ["Accept-Encoding", "Authorization"]
        );
        assert!(headers.values(HeaderName::SetCookie).is_empty());
    }

    #[test]
    fn a_removal_is_an_empty_token_and_no_store() {
        let mut headers = Lines::default();
        token_headers(Some(""), false)
            .write_headers(&mut headers)
            .unwrap();
        assert_eq!(headers.1, [("Session-Token".to_owned(), String::new())]);
        assert_eq!(headers.values(HeaderName::CacheControl), ["no-store"]);
    }

    #[test]
    fn a_session_read_under_header_transport_only_varies() {
        let mut headers = Lines::with(&[(HeaderName::CacheControl, "private, max-age=5")]);
        let commit = token_headers(None, true);
        assert!(!commit.sends_token());
        commit.write_headers(&mut headers).unwrap();
        assert!(headers.1.is_empty());
        assert_eq!(
            headers.values(HeaderName::CacheControl),
            ["private, max-age=5"]
        );
        assert_eq!(
            headers.values(HeaderName::Vary),
            ["Authorization", "Cookie"]
        );
        // Already covered: not repeated.
        let mut headers = Lines::with(&[(HeaderName::Vary, "authorization, cookie")]);
        token_headers(None, true)
            .write_headers(&mut headers)
            .unwrap();
        assert_eq!(headers.values(HeaderName::Vary), ["authorization, cookie"]);
    }

    #[test]
    fn a_refused_token_line_is_an_error() {
        let mut headers = Lines::default();
        let err = token_headers(Some("a\r\nX-Injected: 1"), false)
            .write_headers(&mut headers)
            .unwrap_err();
        assert_eq!(err.http_status(), 500);
        assert!(headers.1.is_empty() && headers.0.is_empty());
    }

    #[test]
    fn statuses_levels_and_messages() {
        let cases = [
            (
                Error::backend("redis", "connection refused"),
                503,
                Level::WARN,
            ),
            (Error::Conflict { attempts: 8 }, 503, Level::WARN),
            (
                Error::CapacityExceeded {
                    provider: "memory",
                    capacity: 10,
                },
                503,
                Level::WARN,
            ),
            (
                Error::TooLarge {
                    size: 3 << 20,
                    limit: 1 << 20,
                },
                413,
                Level::INFO,
            ),
            (
                Error::Degraded {
                    operation: "regenerate",
                },
                503,
                Level::WARN,
            ),
            (Error::InvalidId("wrong length"), 400, Level::INFO),
            (Error::SessionLimit { limit: 3 }, 409, Level::INFO),
            (Error::unsupported("memcache", "count"), 500, Level::ERROR),
            (Error::config("cookie", "bad"), 500, Level::ERROR),
            (Error::Corrupt("bad record".into()), 500, Level::ERROR),
            (
                Error::Decode {
                    key: "k".into(),
                    message: "m".into(),
                },
                500,
                Level::ERROR,
            ),
        ];
        for (error, status, level) in cases {
            assert_eq!(error.http_status(), status, "{error}");
            assert_eq!(error.log_level(), level, "{error}");
            let message = error.public_message();
            assert!(!message.is_empty());
            for detail in ["redis", "refused", "memcache", "cookie", "bad", "3145728"] {
                assert!(!message.contains(detail), "{message:?} reveals {detail:?}");
            }
        }
        assert_eq!(
            Error::TooLarge { size: 2, limit: 1 }.public_message(),
            "session data too large"
        );
        assert_eq!(
            Error::backend("file", "disk full").public_message(),
            "session store unavailable"
        );
        assert_eq!(Error::Corrupt("x".into()).public_message(), "session error");
        assert_eq!(
            Error::Degraded { operation: "set" }.public_message(),
            "session store unavailable: changes not saved"
        );
    }

    #[test]
    fn an_error_answer_is_plain_text_and_never_cached() {
        let mut headers = Lines::with(&[
            (HeaderName::ContentType, "text/html"),
            (HeaderName::CacheControl, "public"),
        ]);
        Error::backend("redis", "down").write_headers(&mut headers);
        assert_eq!(
            headers.values(HeaderName::ContentType),
            [ERROR_CONTENT_TYPE]
        );
        assert_eq!(headers.values(HeaderName::CacheControl), [NO_STORE]);
    }

    #[test]
    fn header_names_are_lowercase_tokens() {
        for name in [
            HeaderName::SetCookie,
            HeaderName::CacheControl,
            HeaderName::Vary,
            HeaderName::ContentType,
        ] {
            let s = name.as_str();
            assert!(
                s.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{s}"
            );
        }
    }
}
