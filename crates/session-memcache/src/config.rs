//! The provider config string: Macaron's `host:port;host:port` list, `memcache://` URLs and
//! `key=value` options, in any mix.

use std::str::FromStr;
use std::time::Duration;

use session_core::id::MAX_ID_LENGTH;
use session_core::{Error, Result};
use url::Url;

/// memcached's own key length limit.
pub(crate) const MAX_KEY_LEN: usize = 250;
/// The default memcached item size limit (`-I 1m`).
pub(crate) const DEFAULT_MAX_ITEM_SIZE: usize = 1024 * 1024;
/// The smallest item size limit accepted (memcached's own minimum for `-I`).
const MIN_ITEM_SIZE: usize = 1024;
const DEFAULT_PORT: u16 = 11211;
const DEFAULT_PREFIX: &str = "session:";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// Settings of a [`crate::MemcacheStore`]: parsed from the config string (`FromStr`) or built
/// in code from [`MemcacheConfig::default`] (one server on `127.0.0.1:11211`, prefix
/// `session:`, 1 s timeout, 1 MiB items) with a struct literal.
///
/// ```
/// use session_memcache::MemcacheConfig;
///
/// let parsed: MemcacheConfig = "10.0.0.1:11211;10.0.0.2:11211;prefix=app:".parse()?;
/// let built = MemcacheConfig {
///     servers: vec!["10.0.0.1:11211".into(), "10.0.0.2:11211".into()],
///     prefix: "app:".into(),
///     ..MemcacheConfig::default()
/// };
/// assert_eq!(parsed, built);
/// # Ok::<(), session_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemcacheConfig {
    /// `host:port` of every server, in config order.
    pub servers: Vec<String>,
    /// Prepended to every session ID to form its key.
    pub prefix: String,
    /// Connect and per-exchange timeout.
    pub timeout: Duration,
    /// The server's item size limit (its `-I` option).
    pub max_item_size: usize,
}

impl Default for MemcacheConfig {
    fn default() -> Self {
        MemcacheConfig {
            servers: vec![format!("127.0.0.1:{DEFAULT_PORT}")],
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            max_item_size: DEFAULT_MAX_ITEM_SIZE,
        }
    }
}

impl FromStr for MemcacheConfig {
    type Err = Error;

    /// Parses `config`. Items are separated by `;` (Macaron) or `,`; each is a server
    /// (`host:port`, `host`, `memcache://host:port[?option=value&...]`) or an option
    /// (`prefix=`, `timeout_ms=`, `max_item_size=`). An empty string means one server on
    /// `127.0.0.1:11211`.
    fn from_str(config: &str) -> Result<Self> {
        let mut cfg = MemcacheConfig {
            servers: Vec::new(),
            ..MemcacheConfig::default()
        };
        for item in config
            .split([';', ','])
            .map(str::trim)
            .filter(|i| !i.is_empty())
        {
            if item.starts_with("memcache://") {
                cfg.add_url(item)?;
            } else if item.contains("://") {
                return Err(Error::config(
                    "server",
                    format!("unsupported scheme in {item:?}: only memcache:// URLs are accepted"),
                ));
            } else if let Some((key, value)) = item.split_once('=') {
                cfg.set_option(key.trim(), value.trim())?;
            } else {
                cfg.add_url(&format!("memcache://{item}"))?;
            }
        }
        if cfg.servers.is_empty() {
            cfg.servers = MemcacheConfig::default().servers;
        }
        Ok(cfg)
    }
}

impl MemcacheConfig {
    /// The rules the config string's options obey, for a config built in code: at least one
    /// server, a valid prefix, a non-zero timeout, items of at least 1024 bytes.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.servers.is_empty() {
            return Err(Error::config("server", "at least one server is needed"));
        }
        validate_prefix(&self.prefix)?;
        if self.timeout.is_zero() {
            return Err(Error::config("timeout_ms", "must be greater than zero"));
        }
        if self.max_item_size < MIN_ITEM_SIZE {
            return Err(Error::config(
                "max_item_size",
                format!("must be at least {MIN_ITEM_SIZE} bytes"),
            ));
        }
        Ok(())
    }

    fn add_url(&mut self, text: &str) -> Result<()> {
        let url = Url::parse(text)
            .map_err(|e| Error::config("server", format!("invalid server {text:?}: {e}")))?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| Error::config("server", format!("no host in {text:?}")))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Error::config(
                "server",
                "credentials are not supported: the meta protocol has no SASL authentication",
            ));
        }
        if !matches!(url.path(), "" | "/") {
            return Err(Error::config(
                "server",
                format!("unexpected path {:?} in {text:?}", url.path()),
            ));
        }
        let port = url.port().unwrap_or(DEFAULT_PORT);
        self.servers.push(format!("{host}:{port}"));
        for (key, value) in url.query_pairs() {
            self.set_option(&key, &value)?;
        }
        Ok(())
    }

    fn set_option(&mut self, key: &str, value: &str) -> Result<()> {
        match key {
            "prefix" => {
                validate_prefix(value)?;
                value.clone_into(&mut self.prefix);
            }
            "timeout_ms" => {
                let ms: u64 = value.parse().ok().filter(|ms| *ms > 0).ok_or_else(|| {
                    Error::config(
                        "timeout_ms",
                        format!("expected a positive number of milliseconds, got {value:?}"),
                    )
                })?;
                self.timeout = Duration::from_millis(ms);
            }
            "max_item_size" => {
                self.max_item_size = value
                    .parse()
                    .ok()
                    .filter(|n| *n >= MIN_ITEM_SIZE)
                    .ok_or_else(|| {
                        Error::config(
                            "max_item_size",
                            format!(
                                "expected a number of bytes of at least {MIN_ITEM_SIZE}, got \
                                 {value:?}"
                            ),
                        )
                    })?;
            }
            "protocol" => {
                return Err(Error::config(
                    "protocol",
                    "this provider always speaks memcached's meta protocol (memcached 1.6+)",
                ));
            }
            other => return Err(Error::config(other, "unknown memcache provider option")),
        }
        Ok(())
    }
}

/// A prefix must keep every key within memcached's rules: printable ASCII without spaces,
/// and at most 250 bytes together with the longest session ID.
pub(crate) fn validate_prefix(prefix: &str) -> Result<()> {
    if let Some(bad) = prefix.bytes().find(|b| !(0x21..=0x7e).contains(b)) {
        return Err(Error::config(
            "prefix",
            format!(
                "byte 0x{bad:02x} is not allowed in a memcached key (printable ASCII, no spaces)"
            ),
        ));
    }
    let max = MAX_KEY_LEN - MAX_ID_LENGTH;
    if prefix.len() > max {
        return Err(Error::config(
            "prefix",
            format!(
                "{} bytes is too long: memcached keys are at most {MAX_KEY_LEN} bytes and session \
                 IDs up to {MAX_ID_LENGTH}, so the prefix may have at most {max}",
                prefix.len()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(e: Error) -> String {
        match e {
            Error::Config { field, .. } => field,
            other => panic!("expected a config error, got {other}"),
        }
    }

    #[test]
    fn macaron_server_list() {
        let c = MemcacheConfig::from_str("127.0.0.1:11211;10.0.0.2:11212").unwrap();
        assert_eq!(c.servers, ["127.0.0.1:11211", "10.0.0.2:11212"]);
        assert_eq!(c.prefix, "session:");
    }

    #[test]
    fn urls_and_options() {
        let c = MemcacheConfig::from_str("memcache://cache.local?prefix=app:s:&timeout_ms=250")
            .unwrap();
        assert_eq!(c.servers, ["cache.local:11211"]);
        assert_eq!(c.prefix, "app:s:");
        assert_eq!(c.timeout, Duration::from_millis(250));
        let c =
            MemcacheConfig::from_str("memcache://[::1]:11300, prefix=x_, max_item_size=2097152")
                .unwrap();
        assert_eq!(c.servers, ["[::1]:11300"]);
        assert_eq!(c.max_item_size, 2 * 1024 * 1024);
    }

    #[test]
    fn empty_means_localhost() {
        assert_eq!(
            MemcacheConfig::from_str("").unwrap().servers,
            ["127.0.0.1:11211"]
        );
    }

    #[test]
    fn unknown_keys_are_named() {
        assert_eq!(
            field(MemcacheConfig::from_str("127.0.0.1:11211;pool=4").unwrap_err()),
            "pool"
        );
        assert_eq!(
            field(MemcacheConfig::from_str("memcache://h:1?colour=red").unwrap_err()),
            "colour"
        );
        assert_eq!(
            field(MemcacheConfig::from_str("memcache://h:1?protocol=ascii").unwrap_err()),
            "protocol"
        );
    }

    #[test]
    fn bad_servers_and_values() {
        assert_eq!(
            field(MemcacheConfig::from_str("redis://h:1").unwrap_err()),
            "server"
        );
        assert_eq!(
            field(MemcacheConfig::from_str("h:notaport").unwrap_err()),
            "server"
        );
        assert_eq!(
            field(MemcacheConfig::from_str("memcache://u:p@h:1").unwrap_err()),
            "server"
        );
        assert_eq!(
            field(MemcacheConfig::from_str("timeout_ms=0").unwrap_err()),
            "timeout_ms"
        );
        assert_eq!(
            field(MemcacheConfig::from_str("max_item_size=big").unwrap_err()),
            "max_item_size"
        );
    }

    #[test]
    fn prefix_rules() {
        assert_eq!(
            field(MemcacheConfig::from_str("prefix=has space").unwrap_err()),
            "prefix"
        );
        assert_eq!(
            field(MemcacheConfig::from_str("prefix=tab\there").unwrap_err()),
            "prefix"
        );
        assert_eq!(
            field(MemcacheConfig::from_str("prefix=caf\u{e9}").unwrap_err()),
            "prefix"
        );
        let long = "p".repeat(MAX_KEY_LEN - MAX_ID_LENGTH + 1);
        assert_eq!(
            field(MemcacheConfig::from_str(&format!("prefix={long}")).unwrap_err()),
            "prefix"
        );
        let ok = "p".repeat(MAX_KEY_LEN - MAX_ID_LENGTH);
        assert_eq!(
            MemcacheConfig::from_str(&format!("prefix={ok}"))
                .unwrap()
                .prefix,
            ok
        );
        assert_eq!(MemcacheConfig::from_str("prefix=").unwrap().prefix, "");
    }

    #[test]
    fn a_config_built_in_code_obeys_the_same_rules() {
        assert!(MemcacheConfig::default().validate().is_ok());
        let cases = [
            (
                MemcacheConfig {
                    servers: Vec::new(),
                    ..MemcacheConfig::default()
                },
                "server",
            ),
            (
                MemcacheConfig {
                    prefix: "has space".into(),
                    ..MemcacheConfig::default()
                },
                "prefix",
            ),
            (
                MemcacheConfig {
                    timeout: Duration::ZERO,
                    ..MemcacheConfig::default()
                },
                "timeout_ms",
            ),
            (
                MemcacheConfig {
                    max_item_size: 10,
                    ..MemcacheConfig::default()
                },
                "max_item_size",
            ),
        ];
        for (config, key) in cases {
            assert_eq!(field(config.validate().unwrap_err()), key);
        }
    }
}
