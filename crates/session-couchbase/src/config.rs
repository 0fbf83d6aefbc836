//! The provider's config string, in Macaron's form or as a `couchbase://` URL.

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use percent_encoding::percent_decode_str;
use session_core::config_string::Secret;
use session_core::{Error, Result};

/// Default per-operation bound.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default bound on connecting (and on the first operation that proves the bucket is there).
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Default key prefix.
const DEFAULT_PREFIX: &str = "session:";
/// Couchbase keys are at most 250 bytes; session IDs are at most 128 characters.
const MAX_PREFIX_LEN: usize = 250 - 128;

/// Settings of a [`crate::CouchbaseStore`]: parsed from the config string (`FromStr`) or
/// built in code with [`CouchbaseConfig::new`] and a struct literal for the rest.
///
/// ```
/// use session_core::config_string::Secret;
/// use session_couchbase::CouchbaseConfig;
///
/// let parsed: CouchbaseConfig =
///     "couchbase://app:secret@10.0.0.5:11210/sessions?prefix=web:".parse()?;
/// let built = CouchbaseConfig {
///     prefix: "web:".into(),
///     ..CouchbaseConfig::new("couchbase://10.0.0.5:11210", "app", Secret::new("secret"), "sessions")
/// };
/// assert_eq!(parsed, built);
/// # Ok::<(), session_core::Error>(())
/// ```
///
/// Two forms of config string are accepted:
///
/// - **URL**: `couchbase://USER:PASSWORD@HOST[:PORT][,HOST...]/BUCKET[?KEY=VALUE&...]`
///   (`couchbases://` for TLS). User, password and bucket are percent-decoded.
/// - **Macaron**: `http://[USER:PASSWORD@]HOST[:8091]/,POOL,BUCKET[,KEY=VALUE...]`, the form
///   Macaron's couchbase provider took. The REST address names the node; the SDK connects to
///   its data service on the default port 11210. `POOL` must be `default` (Couchbase has no
///   other). Without a user, the bucket name is the user with an empty password, as with
///   pre-RBAC bucket passwords.
///
/// Keys (both forms): `scope`, `collection` (default `_default._default`), `prefix` (default
/// `session:`), `timeout` (per operation, default `5s`) and `connect_timeout` (default
/// `15s`); durations are `500ms`, `5s`, `2m` or whole seconds. Any other key is an error
/// that names it. `Debug` does not show the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouchbaseConfig {
    /// The SDK connection string: scheme and hosts, nothing else.
    pub connection_string: String,
    /// The user to authenticate as.
    pub username: String,
    /// Its password.
    pub password: Secret,
    /// The bucket holding the sessions.
    pub bucket: String,
    /// The scope, when sessions live in a named collection.
    pub scope: String,
    /// The collection.
    pub collection: String,
    /// Prepended to every session ID to form the document key.
    pub prefix: String,
    /// Bound on each operation; reaching it is a backend error.
    pub timeout: Duration,
    /// Bound on connecting and on the first operation.
    pub connect_timeout: Duration,
}

fn decode(field: &str, s: &str) -> Result<String> {
    percent_decode_str(s)
        .decode_utf8()
        .map(Cow::into_owned)
        .map_err(|_| Error::config(field, "percent-encoding does not decode to UTF-8"))
}

/// Parses `500ms`, `5s`, `2m` or a whole number of seconds.
fn duration(field: &str, value: &str) -> Result<Duration> {
    let value = value.trim();
    let (number, unit): (&str, fn(u64) -> Duration) = if let Some(n) = value.strip_suffix("ms") {
        (n, Duration::from_millis)
    } else if let Some(n) = value.strip_suffix('s') {
        (n, Duration::from_secs)
    } else if let Some(n) = value.strip_suffix('m') {
        (n, |m| Duration::from_secs(m.saturating_mul(60)))
    } else {
        (value, Duration::from_secs)
    };
    match number.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(unit(n)),
        _ => Err(Error::config(
            field,
            format!("expected a positive duration such as 500ms, 5s or 2m, got {value:?}"),
        )),
    }
}

/// Splits `USER:PASSWORD@HOSTS` into the decoded credentials and the hosts.
fn userinfo(authority: &str) -> Result<(Option<(String, String)>, &str)> {
    match authority.rsplit_once('@') {
        None => Ok((None, authority)),
        Some((info, hosts)) => {
            let (user, password) = info.split_once(':').unwrap_or((info, ""));
            Ok((
                Some((decode("username", user)?, decode("password", password)?)),
                hosts,
            ))
        }
    }
}

/// Splits `HOST[:PORT]` (`[v6]:PORT` for IPv6 addresses).
fn split_host_port(s: &str) -> Result<(&str, Option<u16>)> {
    let (host, port) = if s.starts_with('[') {
        let end = s
            .find(']')
            .ok_or_else(|| Error::config("host", "unclosed [ in an IPv6 address"))?;
        (&s[..=end], s[end + 1..].strip_prefix(':'))
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port = port
        .map(|p| {
            p.parse::<u16>()
                .map_err(|_| Error::config("host", format!("invalid port {p:?}")))
        })
        .transpose()?;
    Ok((host, port))
}

impl FromStr for CouchbaseConfig {
    type Err = Error;

    /// Parses a config string in either form.
    fn from_str(config: &str) -> Result<CouchbaseConfig> {
        let config = config.trim();
        if config.starts_with("http://") || config.starts_with("https://") {
            CouchbaseConfig::parse_macaron(config)
        } else if config.starts_with("couchbase://") || config.starts_with("couchbases://") {
            CouchbaseConfig::parse_url(config)
        } else {
            Err(Error::config(
                "provider_config",
                "expected couchbase://user:password@host:11210/bucket or Macaron's http://host:8091/,default,bucket",
            ))
        }
    }
}

impl CouchbaseConfig {
    /// A config for `bucket` on the cluster at `connection_string` (the SDK's:
    /// `couchbase://host[:port][,host...]`, `couchbases://` for TLS), as `username`, with the
    /// defaults for the rest: the default collection, prefix `session:`, 5 s per operation,
    /// 15 s to connect.
    pub fn new(
        connection_string: impl Into<String>,
        username: impl Into<String>,
        password: Secret,
        bucket: impl Into<String>,
    ) -> CouchbaseConfig {
        CouchbaseConfig {
            connection_string: connection_string.into(),
            username: username.into(),
            password,
            bucket: bucket.into(),
            scope: "_default".into(),
            collection: "_default".into(),
            prefix: DEFAULT_PREFIX.into(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }

    fn parse_url(config: &str) -> Result<CouchbaseConfig> {
        let (scheme, rest) = config.split_once("://").unwrap_or(("couchbase", config));
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, bucket) = rest.split_once('/').unwrap_or((rest, ""));
        let (credentials, hosts) = userinfo(authority)?;
        if hosts.is_empty() {
            return Err(Error::config("host", "no host in the couchbase:// URL"));
        }
        let bucket = decode("bucket", bucket.trim_end_matches('/'))?;
        let Some((username, password)) = credentials else {
            return Err(Error::config(
                "username",
                "missing: write couchbase://user:password@host/bucket",
            ));
        };
        let mut cfg = CouchbaseConfig::new(
            format!("{scheme}://{hosts}"),
            username,
            Secret::new(password),
            bucket,
        );
        let mut options = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            options.push((decode(key, key)?, decode(key, value)?));
        }
        cfg.apply(options)?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn parse_macaron(config: &str) -> Result<CouchbaseConfig> {
        let mut parts = config.split(',').map(str::trim);
        let url = parts.next().unwrap_or_default();
        let pool = parts.next().unwrap_or_default();
        let bucket = parts.next().unwrap_or_default();
        let tls = url.starts_with("https://");
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        let authority = rest.split(['/', '?']).next().unwrap_or_default();
        let (credentials, hostport) = userinfo(authority)?;
        let (host, port) = split_host_port(hostport)?;
        if host.is_empty() {
            return Err(Error::config("host", "no host in the Macaron config"));
        }
        let rest_port = if tls { 18091 } else { 8091 };
        if port.is_some_and(|p| p != rest_port) {
            return Err(Error::config(
                "host",
                format!(
                    "the data-service port cannot be derived from REST port {}; write couchbase://user:password@{host}:KV_PORT/bucket",
                    port.unwrap_or_default()
                ),
            ));
        }
        if !(pool.is_empty() || pool == "default") {
            return Err(Error::config(
                "pool",
                format!("Couchbase has only the pool \"default\", got {pool:?}"),
            ));
        }
        let scheme = if tls { "couchbases" } else { "couchbase" };
        let (username, password) =
            credentials.unwrap_or_else(|| (bucket.to_owned(), String::new()));
        let mut cfg = CouchbaseConfig::new(
            format!("{scheme}://{host}"),
            username,
            Secret::new(password),
            bucket,
        );
        let mut options = Vec::new();
        for pair in parts.filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| Error::config(pair, "expected key=value"))?;
            options.push((key.trim().to_owned(), value.trim().to_owned()));
        }
        cfg.apply(options)?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn apply(&mut self, options: Vec<(String, String)>) -> Result<()> {
        let mut scope = None;
        let mut collection = None;
        for (key, value) in options {
            match key.as_str() {
                "scope" => scope = Some(value),
                "collection" => collection = Some(value),
                "prefix" => self.prefix = value,
                "timeout" => self.timeout = duration("timeout", &value)?,
                "connect_timeout" => self.connect_timeout = duration("connect_timeout", &value)?,
                _ => return Err(Error::config(key, "unknown couchbase provider option")),
            }
        }
        match (scope, collection) {
            (None, None) => {}
            (scope, Some(collection)) => {
                self.scope = scope.unwrap_or_else(|| "_default".into());
                self.collection = collection;
            }
            (Some(_), None) => {
                return Err(Error::config("collection", "a scope needs a collection"));
            }
        }
        Ok(())
    }

    /// The rules every config obeys, parsed or built in code; [`crate::CouchbaseStore::open`]
    /// checks them too.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.bucket.is_empty() {
            return Err(Error::config("bucket", "no bucket given"));
        }
        if self.username.is_empty() {
            return Err(Error::config("username", "empty user name"));
        }
        if self.scope.is_empty() || self.collection.is_empty() {
            return Err(Error::config(
                "collection",
                "empty scope or collection name",
            ));
        }
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(Error::config(
                if self.timeout.is_zero() {
                    "timeout"
                } else {
                    "connect_timeout"
                },
                "must be greater than zero",
            ));
        }
        if self.prefix.len() > MAX_PREFIX_LEN {
            return Err(Error::config(
                "prefix",
                format!("at most {MAX_PREFIX_LEN} bytes (Couchbase keys are at most 250)"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(e: Error) -> String {
        match e {
            Error::Config { field, .. } => field,
            other => panic!("not a config error: {other}"),
        }
    }

    #[test]
    fn url_form() {
        let c = CouchbaseConfig::from_str(
            "couchbase://app:p%40ss%3Aword@127.0.0.1:11210/sess%20ions?scope=s&collection=c&prefix=web%3A&timeout=250ms&connect_timeout=2m",
        )
        .expect("valid");
        assert_eq!(c.connection_string, "couchbase://127.0.0.1:11210");
        assert_eq!(
            (c.username.as_str(), c.password.expose()),
            ("app", "p@ss:word")
        );
        assert_eq!(c.bucket, "sess ions");
        assert_eq!((c.scope.as_str(), c.collection.as_str()), ("s", "c"));
        assert_eq!(c.prefix, "web:");
        assert_eq!(c.timeout, Duration::from_millis(250));
        assert_eq!(c.connect_timeout, Duration::from_secs(120));
        assert!(
            !format!("{c:?}").contains("p@ss"),
            "Debug shows the password"
        );

        let c = CouchbaseConfig::from_str("couchbases://u:p@a.example,b.example/b").expect("valid");
        assert_eq!(c.connection_string, "couchbases://a.example,b.example");
        assert_eq!(
            (c.scope.as_str(), c.collection.as_str()),
            ("_default", "_default")
        );
        assert_eq!(c.prefix, "session:");
        assert_eq!(c.timeout, DEFAULT_TIMEOUT);
        let c =
            CouchbaseConfig::from_str("couchbase://u:p@h/b?collection=c&timeout=3").expect("valid");
        assert_eq!((c.scope.as_str(), c.collection.as_str()), ("_default", "c"));
        assert_eq!(c.timeout, Duration::from_secs(3));
    }

    #[test]
    fn macaron_form() {
        let c =
            CouchbaseConfig::from_str("http://127.0.0.1:8091/,default,sessions").expect("valid");
        assert_eq!(c.connection_string, "couchbase://127.0.0.1");
        assert_eq!((c.username.as_str(), c.password.expose()), ("sessions", ""));
        assert_eq!(c.bucket, "sessions");
        let c = CouchbaseConfig::from_str(
            "http://app:pw@db.local/,default,sessions,prefix=x:,timeout=2s",
        )
        .expect("valid");
        assert_eq!(c.connection_string, "couchbase://db.local");
        assert_eq!((c.username.as_str(), c.password.expose()), ("app", "pw"));
        assert_eq!(c.prefix, "x:");
        assert_eq!(c.timeout, Duration::from_secs(2));
        let c = CouchbaseConfig::from_str("http://[::1]:8091/,default,b").expect("valid");
        assert_eq!(c.connection_string, "couchbase://[::1]");
        let c = CouchbaseConfig::from_str("https://db.local:18091/,,b").expect("valid");
        assert_eq!(c.connection_string, "couchbases://db.local");
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            ("couchbase://u:p@h/b?colour=red", "colour"),
            ("couchbase://u:p@h/b?prefix=x&Timeout=1s", "Timeout"),
            ("http://h:8091/,default,b,colour=red", "colour"),
            ("http://h:8091/,default,b,novalue", "novalue"),
            ("couchbase://u:p@h/", "bucket"),
            ("couchbase://h/b", "username"),
            ("couchbase://u:p@/b", "host"),
            ("couchbase://u:p@h/b?timeout=0", "timeout"),
            ("couchbase://u:p@h/b?timeout=soon", "timeout"),
            ("couchbase://u:p@h/b?connect_timeout=-1s", "connect_timeout"),
            ("couchbase://u:p@h/b?scope=s", "collection"),
            ("http://h:9000/,default,b", "host"),
            ("http://h:port/,default,b", "host"),
            ("http://h:8091/,mypool,b", "pool"),
            ("http://h:8091/,default,", "bucket"),
            ("redis://h", "provider_config"),
            ("", "provider_config"),
        ];
        for (config, expected) in cases {
            let e = CouchbaseConfig::from_str(config).expect_err(config);
            assert_eq!(field(e), expected, "{config}");
        }
        let long = format!(
            "couchbase://u:p@h/b?prefix={}",
            "x".repeat(MAX_PREFIX_LEN + 1)
        );
        assert_eq!(
            field(CouchbaseConfig::from_str(&long).expect_err("long prefix")),
            "prefix"
        );
    }

    #[test]
    fn a_config_built_in_code_obeys_the_same_rules() {
        let base = CouchbaseConfig::new("couchbase://h", "u", Secret::new("p"), "b");
        assert!(base.validate().is_ok());
        let cases = [
            (
                CouchbaseConfig {
                    bucket: String::new(),
                    ..base.clone()
                },
                "bucket",
            ),
            (
                CouchbaseConfig {
                    timeout: Duration::ZERO,
                    ..base.clone()
                },
                "timeout",
            ),
            (
                CouchbaseConfig {
                    connect_timeout: Duration::ZERO,
                    ..base.clone()
                },
                "connect_timeout",
            ),
            (
                CouchbaseConfig {
                    prefix: "x".repeat(MAX_PREFIX_LEN + 1),
                    ..base
                },
                "prefix",
            ),
        ];
        for (config, expected) in cases {
            assert_eq!(field(config.validate().expect_err(expected)), expected);
        }
    }
}
