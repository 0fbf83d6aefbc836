//! The cookie policy: reading the session cookie from `Cookie` headers and writing
//! `Set-Cookie` values. Core speaks header strings so that it knows no web framework.

use cookie::{Cookie, time::Duration as CookieDuration};

use crate::options::{Options, SameSite};

/// The most distinct values of the session cookie considered in one request. Browsers send
/// several when cookies of one name exist for different paths or domains (cookie tossing).
pub const MAX_COOKIE_CANDIDATES: usize = 4;

/// The distinct values of cookie `name` in the given `Cookie` header values, in order.
///
/// Pairs that do not parse are skipped, so a whole `Set-Cookie` line replayed as a `Cookie`
/// header (`name=v; Path=/; HttpOnly; SameSite=Lax`) still yields `v`.
pub fn cookie_values<'a>(headers: impl IntoIterator<Item = &'a str>, name: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for_each_value(headers.into_iter().map(str::as_bytes), name, |value| {
        if let Ok(value) = std::str::from_utf8(value) {
            found.push(value.to_owned());
        }
    });
    found
}

/// Calls `visit` with each distinct value of cookie `name`, in order, at most
/// [`MAX_COOKIE_CANDIDATES`] times.
///
/// A plain scan over the header bytes rather than `cookie::Cookie::split_parse`: this runs on
/// every request, and building a `Cookie` for every pair of the header (plus checking the
/// whole header is text first) cost more than the rest of an untouched request's session
/// handling (see `bench/NOTES.md`). The rules are the ones `split_parse` applies to a text
/// header: pairs split on `;`, name and value split at the first `=` and trimmed of ASCII
/// whitespace, no percent-decoding, pairs without `=` or with another name skipped. Values
/// are handed over as bytes: whether one is text is checked when it is parsed as an ID, so
/// a request that never uses its session does not pay for that either.
pub(crate) fn for_each_value<'a>(
    headers: impl IntoIterator<Item = &'a [u8]>,
    name: &str,
    mut visit: impl FnMut(&'a [u8]),
) {
    let name = name.as_bytes();
    if name.is_empty() {
        return;
    }
    let mut seen: [&[u8]; MAX_COOKIE_CANDIDATES] = [b""; MAX_COOKIE_CANDIDATES];
    let mut count = 0;
    for header in headers {
        // memchr finds the separators a word (or SIMD register) at a time.
        let mut rest = header;
        while !rest.is_empty() {
            let end = memchr::memchr(b';', rest).unwrap_or(rest.len());
            let pair = &rest[..end];
            rest = rest.get(end + 1..).unwrap_or_default();
            let Some(eq) = memchr::memchr(b'=', pair) else {
                continue;
            };
            if pair[..eq].trim_ascii() != name {
                continue;
            }
            let value = pair[eq + 1..].trim_ascii();
            if seen[..count].contains(&value) {
                continue;
            }
            if count == MAX_COOKIE_CANDIDATES {
                return;
            }
            seen[count] = value;
            count += 1;
            visit(value);
        }
    }
}

fn base(options: &Options, value: String) -> Cookie<'static> {
    let mut cookie = Cookie::build((options.cookie_name.clone(), value))
        .path(options.cookie_path.clone())
        .http_only(options.http_only)
        .secure(options.secure)
        .same_site(match options.same_site {
            SameSite::Strict => cookie::SameSite::Strict,
            SameSite::Lax => cookie::SameSite::Lax,
            SameSite::None => cookie::SameSite::None,
        })
        .build();
    if let Some(domain) = &options.domain {
        cookie.set_domain(domain.clone());
    }
    cookie
}

/// The `Set-Cookie` value that hands session `id` to the client, with every attribute.
pub fn session_cookie(options: &Options, id: &str) -> String {
    session_cookie_with_max_age(options, id, None)
}

/// [`session_cookie`] with `Max-Age` set to `max_age` when given (a session with a lifetime
/// of its own, see [`crate::lifetime`]), else to [`Options::cookie_lifetime`].
pub fn session_cookie_with_max_age(
    options: &Options,
    id: &str,
    max_age: Option<std::time::Duration>,
) -> String {
    let mut cookie = base(options, id.to_owned());
    let max_age = max_age.unwrap_or(options.cookie_lifetime);
    if !max_age.is_zero() {
        let secs = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
        cookie.set_max_age(CookieDuration::seconds(secs));
    }
    cookie.to_string()
}

/// The `Set-Cookie` value that removes the session cookie: same name, path, domain, secure,
/// SameSite and HttpOnly as when it was set, an empty value, `Max-Age=0` and a past `Expires`.
pub fn removal_cookie(options: &Options) -> String {
    let mut cookie = base(options, String::new());
    cookie.make_removal();
    cookie.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_values_in_plain_and_replayed_headers() {
        let opts = Options::default();
        let set = session_cookie(&opts, "abc");
        assert_eq!(cookie_values([set.as_str()], "MacaronSession"), ["abc"]);
        assert_eq!(
            cookie_values(
                [
                    "a=1; MacaronSession=x; b=2",
                    "MacaronSession=y; MacaronSession=x"
                ],
                "MacaronSession"
            ),
            ["x", "y"]
        );
        assert!(cookie_values(["garbage;;; =; ==="], "MacaronSession").is_empty());
    }

    #[test]
    fn other_cookies_may_hold_any_bytes() {
        let mut found = Vec::new();
        for_each_value(
            [
                &b"x=\xff\xfe; MacaronSession = abc ;y"[..],
                b"MacaronSession=\xff",
            ],
            "MacaronSession",
            |v| found.push(v),
        );
        assert_eq!(found, [&b"abc"[..], b"\xff"]);
    }

    #[test]
    fn candidates_are_bounded() {
        let header: String = (0..100).map(|i| format!("s={i}; ")).collect();
        assert_eq!(
            cookie_values([header.as_str()], "s").len(),
            MAX_COOKIE_CANDIDATES
        );
    }

    #[test]
    fn attributes_are_complete() {
        let opts = Options {
            domain: Some("example.com".into()),
            cookie_lifetime: std::time::Duration::from_secs(60),
            ..Options::default()
        };
        let set = session_cookie(&opts, "abc");
        for part in [
            "MacaronSession=abc",
            "Path=/",
            "HttpOnly",
            "Secure",
            "SameSite=Lax",
            "Domain=example.com",
            "Max-Age=60",
        ] {
            assert!(set.contains(part), "{set} lacks {part}");
        }
        let gone = removal_cookie(&opts);
        for part in [
            "MacaronSession=",
            "Path=/",
            "HttpOnly",
            "Secure",
            "SameSite=Lax",
            "Domain=example.com",
            "Max-Age=0",
            "Expires=",
        ] {
            assert!(gone.contains(part), "{gone} lacks {part}");
        }
        assert!(!session_cookie(&Options::default(), "abc").contains("Max-Age"));
    }
}
