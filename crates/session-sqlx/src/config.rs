//! The provider config: [`SqlConfig`], parsed from the registry's config string in either of
//! a provider's two forms (its client's native `key=value` syntax, or a sqlx URL) or built in
//! code, and the keys every sqlx-based provider accepts besides its connection keys (the
//! table, the pool's size and acquire timeout). Either form names an unknown key in its error.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use session_core::{Error, Result, config_string};
use url::{Host, Url};

use crate::dialect::Dialect;
use crate::name::TableName;
use crate::pool::ConnectOptionsOf;

/// Pool size when the config sets none.
pub const DEFAULT_POOL_SIZE: u32 = 10;

/// How long a request waits for a pooled connection before failing with `Error::Backend`.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a sqlx-based provider connects, which table it uses and how large its pool is.
///
/// Parse it from a config string ([`FromStr`], what the registry does), or build it in code:
/// [`SqlConfig::new`] with the sqlx connect options, then set the public fields. `Debug`
/// shows where it connects, never the password.
pub struct SqlConfig<D: Dialect> {
    /// Where and how to connect.
    pub connect: ConnectOptionsOf<D>,
    /// The session table.
    pub table: TableName<D>,
    /// Maximum number of pooled connections.
    pub pool_size: u32,
    /// Bound on waiting for a pooled connection (and so on connecting to a dead server).
    pub acquire_timeout: Duration,
}

impl<D: Dialect> SqlConfig<D> {
    /// `connect` with the default table, pool size and acquire timeout.
    pub fn new(connect: ConnectOptionsOf<D>) -> Self {
        SqlConfig {
            connect,
            table: TableName::default(),
            pool_size: DEFAULT_POOL_SIZE,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
        }
    }

    /// Applies one of the keys every provider has (`table`, the pool keys); false, changing
    /// nothing, for any other key.
    fn provider_key(&mut self, key: &str, value: &str) -> Result<bool> {
        if key == "table" {
            self.table = TableName::parse(value)?;
            return Ok(true);
        }
        pool_key(key, value, &mut self.pool_size, &mut self.acquire_timeout)
    }
}

impl<D: Dialect> Clone for SqlConfig<D> {
    fn clone(&self) -> Self {
        SqlConfig {
            connect: self.connect.clone(),
            table: self.table.clone(),
            pool_size: self.pool_size,
            acquire_timeout: self.acquire_timeout,
        }
    }
}

impl<D: Dialect> fmt::Debug for SqlConfig<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not derived: the connect options' own `Debug` prints the password.
        let endpoint = D::endpoint(&self.connect);
        f.debug_struct("SqlConfig")
            .field("provider", &D::NAME)
            .field("host", &endpoint.host)
            .field("port", &endpoint.port)
            .field("database", &endpoint.database)
            .field("user", &endpoint.user)
            .field("table", &self.table)
            .field("pool_size", &self.pool_size)
            .field("acquire_timeout", &self.acquire_timeout)
            .finish_non_exhaustive()
    }
}

/// A provider's config-string syntax: what [`SqlConfig`]'s [`FromStr`] needs beyond the
/// keys every provider has.
pub trait ConfigSyntax: Dialect {
    /// URL schemes of the sqlx URL form (`postgres://`, ...), with `://`.
    const URL_SCHEMES: &'static [&'static str];

    /// The keys the provider accepts, listed in the error for an unknown one.
    const KEYS: &'static str;

    /// Connect options before any key is applied.
    fn default_options() -> ConnectOptionsOf<Self>;

    /// Splits the native form into `(key, value)` pairs, in order.
    fn pairs(config: &str) -> Result<Vec<(String, String)>>;

    /// Applies a connection key of the native form (`host` is also used for an IPv6 host
    /// of the URL form); an unknown key is [`unknown_key`]'s error.
    fn connection_key(
        connect: ConnectOptionsOf<Self>,
        key: &str,
        value: &str,
    ) -> Result<ConnectOptionsOf<Self>>;

    /// A query parameter of the URL form that is not one of the shared keys: the value to
    /// hand to sqlx (checked, perhaps rewritten), or an error; an unknown key is
    /// [`unknown_key`]'s error, since sqlx itself would silently ignore it.
    fn url_parameter<'v>(key: &str, value: Cow<'v, str>) -> Result<Cow<'v, str>>;

    /// Last changes to the parsed options (defaults the provider sets unless the config did).
    fn finish(connect: ConnectOptionsOf<Self>) -> ConnectOptionsOf<Self> {
        connect
    }
}

/// The error for a key provider `D` does not know, naming it and listing the known ones.
pub fn unknown_key<D: ConfigSyntax>(key: &str) -> Error {
    Error::config(
        key,
        format!(
            "unknown {} provider option (accepted: {})",
            D::NAME,
            D::KEYS
        ),
    )
}

/// `Ok` unless `key=value` asks for TLS (`needs_tls`) from a provider built without its
/// `tls` feature (`built_with_tls`): then a config error that says which feature to enable.
pub fn require_tls<D: Dialect>(
    key: &str,
    value: &str,
    needs_tls: bool,
    built_with_tls: bool,
) -> Result<()> {
    if needs_tls && !built_with_tls {
        return Err(Error::config(
            key,
            format!(
                "{key}={value} needs TLS, but session-{} was built without it: enable its \
                 `tls` feature",
                D::NAME
            ),
        ));
    }
    Ok(())
}

impl<D: ConfigSyntax> FromStr for SqlConfig<D> {
    type Err = Error;

    fn from_str(config: &str) -> Result<Self> {
        let config = config.trim();
        if D::URL_SCHEMES
            .iter()
            .any(|scheme| config.starts_with(scheme))
        {
            return from_url(config);
        }
        let mut parsed = SqlConfig::<D>::new(D::default_options());
        for (key, value) in D::pairs(config)? {
            if !parsed.provider_key(&key, &value)? {
                parsed.connect = D::connection_key(parsed.connect, &key, &value)?;
            }
        }
        parsed.connect = D::finish(parsed.connect);
        Ok(parsed)
    }
}

/// The URL form: the shared keys are taken out of the query, the others are checked by the
/// provider and the URL goes to sqlx's own parser.
fn from_url<D: ConfigSyntax>(config: &str) -> Result<SqlConfig<D>> {
    let bad_url =
        |e: &dyn fmt::Display| Error::config("url", format!("not a valid {} URL: {e}", D::NAME));
    let mut url = Url::parse(config).map_err(|e| bad_url(&e))?;
    let mut parsed = SqlConfig::<D>::new(D::default_options());
    let mut forwarded = Vec::new();
    for (key, value) in url.query_pairs() {
        if !parsed.provider_key(&key, &value)? {
            let value = D::url_parameter(&key, value)?;
            forwarded.push((key.into_owned(), value.into_owned()));
        }
    }
    url.set_query(None);
    if !forwarded.is_empty() {
        url.query_pairs_mut().extend_pairs(forwarded);
    }
    let mut connect = ConnectOptionsOf::<D>::from_str(url.as_str()).map_err(|e| bad_url(&e))?;
    // sqlx keeps the brackets of an IPv6 literal, which then fails to resolve.
    if let Some(Host::Ipv6(addr)) = url.host() {
        connect = D::connection_key(connect, "host", &addr.to_string())?;
    }
    parsed.connect = D::finish(connect);
    Ok(parsed)
}

/// Applies `key` when it is a pool key: `pool_size` (or `max_connections`, a positive whole
/// number) to `pool_size`, `acquire_timeout` (positive seconds, fractions allowed) to
/// `acquire_timeout`. Returns false, changing nothing, for any other key; a bad value is an
/// [`Error::Config`] naming the key.
pub fn pool_key(
    key: &str,
    value: &str,
    pool_size: &mut u32,
    acquire_timeout: &mut Duration,
) -> Result<bool> {
    match key {
        "pool_size" | "max_connections" => *pool_size = config_string::positive(key, value)?,
        // Fractional seconds are allowed, so `config::seconds` does not fit.
        "acquire_timeout" => {
            *acquire_timeout = value
                .trim()
                .parse()
                .ok()
                .filter(|s: &f64| *s > 0.0)
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .ok_or_else(|| {
                    Error::config(
                        key,
                        format!("expected a positive number of seconds, got {value:?}"),
                    )
                })?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn apply(key: &str, value: &str) -> Result<(bool, u32, Duration)> {
        let (mut size, mut timeout) = (DEFAULT_POOL_SIZE, DEFAULT_ACQUIRE_TIMEOUT);
        let applied = pool_key(key, value, &mut size, &mut timeout)?;
        Ok((applied, size, timeout))
    }

    fn field(result: Result<(bool, u32, Duration)>) -> String {
        match result {
            Err(Error::Config { field, .. }) => field,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn pool_keys_set_their_value() {
        assert_eq!(
            apply("pool_size", "3").unwrap(),
            (true, 3, DEFAULT_ACQUIRE_TIMEOUT)
        );
        assert_eq!(
            apply("max_connections", "4").unwrap(),
            (true, 4, DEFAULT_ACQUIRE_TIMEOUT)
        );
        assert_eq!(
            apply("acquire_timeout", "0.5").unwrap(),
            (true, DEFAULT_POOL_SIZE, Duration::from_millis(500))
        );
    }

    #[test]
    fn other_keys_are_left_to_the_provider() {
        assert_eq!(
            apply("table", "x").unwrap(),
            (false, DEFAULT_POOL_SIZE, DEFAULT_ACQUIRE_TIMEOUT)
        );
    }

    #[test]
    fn bad_values_are_config_errors_naming_the_key() {
        for (key, value) in [
            ("pool_size", "0"),
            ("pool_size", "x"),
            ("max_connections", "-1"),
            ("acquire_timeout", "0"),
            ("acquire_timeout", "-1"),
            ("acquire_timeout", "soon"),
            ("acquire_timeout", "1e400"),
        ] {
            assert_eq!(field(apply(key, value)), key, "{key}={value}");
        }
    }
}
