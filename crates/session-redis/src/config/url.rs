//! The URL form: `redis://[user[:password]@]host[:port][/db][?key=value&...]` and
//! `redis+unix:///path`.

use percent_encoding::percent_decode_str;
use session_core::config_string::Secret;
use session_core::{Error, Result};

use super::RedisConfig;
use super::macaron::{Pairs, apply};

pub(super) fn parse_url(config: &str) -> Result<RedisConfig> {
    let (scheme, rest) = config
        .split_once("://")
        .ok_or_else(|| Error::config("url", "expected scheme://"))?;
    let scheme = scheme.to_ascii_lowercase();
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    if rest.contains('#') || query.is_some_and(|q| q.contains('#')) {
        // `#insecure` is how the client turns certificate checks off: never accepted.
        return Err(Error::config("url", "a URL fragment is not accepted"));
    }
    let mut parsed = RedisConfig::default();
    let mut pairs = Pairs::default();
    match scheme.as_str() {
        "redis" | "valkey" => {
            let (authority, path) = match rest.split_once('/') {
                Some((a, p)) => (a, p),
                None => (rest, ""),
            };
            let host = match authority.rsplit_once('@') {
                Some((userinfo, host)) => {
                    let (user, password) = match userinfo.split_once(':') {
                        Some((u, p)) => (u, Some(p)),
                        None => (userinfo, None),
                    };
                    parsed.username = decode("username", user)?;
                    parsed.password = password
                        .map(|p| decode("password", p))
                        .transpose()?
                        .flatten()
                        .map(Secret::new);
                    host
                }
                None => authority,
            };
            if host.is_empty() {
                return Err(Error::config("url", "missing host"));
            }
            pairs.addr = Some(host.to_owned());
            let db = path.trim_matches('/');
            if !db.is_empty() {
                parsed.db = db.parse().map_err(|_| {
                    Error::config(
                        "db",
                        format!("expected a number in the URL path, got {db:?}"),
                    )
                })?;
            }
        }
        "redis+unix" | "unix" => {
            if rest.is_empty() {
                return Err(Error::config("url", "missing socket path"));
            }
            pairs.network = Some("unix".into());
            pairs.addr = Some(decode("url", rest)?.unwrap_or_default());
        }
        other => {
            return Err(Error::config(
                "url",
                format!("unsupported scheme {other:?} (expected redis:// or redis+unix://)"),
            ));
        }
    }
    for item in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = item.split_once('=').unwrap_or((item, ""));
        let key = decode("url", key)?.unwrap_or_default();
        let value = decode(&key, value)?.unwrap_or_default();
        match key.to_ascii_lowercase().as_str() {
            "addr" | "network" | "username" | "password" => {
                return Err(Error::config(
                    key,
                    "belongs in the URL itself, not its query",
                ));
            }
            _ => apply(&mut parsed, &mut pairs, &key, &value)?,
        }
    }
    pairs.finish(&mut parsed)?;
    Ok(parsed)
}

fn decode(field: &str, s: &str) -> Result<Option<String>> {
    let decoded = percent_decode_str(s)
        .decode_utf8()
        .map_err(|_| Error::config(field, "is not valid UTF-8 after percent-decoding"))?;
    Ok((!decoded.is_empty()).then(|| decoded.into_owned()))
}
