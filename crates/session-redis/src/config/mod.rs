//! The provider's config string, parsed into [`RedisConfig`].
//!
//! Three forms are accepted, as Macaron documented them plus the URL form of the client:
//!
//! - positional: `127.0.0.1:6379,100,password` (address, pool size, password);
//! - `key=value` pairs separated by commas: `network`, `addr`, `username`, `password`, `db`,
//!   `pool_size`, `idle_timeout`, `dial_timeout`, `read_timeout`, `write_timeout`, `prefix`,
//!   `ha_mode` (`sentinel` or `cluster`), `master_name`, `sentinel_addrs`, `sentinel_password`,
//!   `cluster`, `addrs`, `tls`, `near_cache` (this crate's: the near cache's size in
//!   sessions, 0 = off, single server only; see the crate docs). Address lists are `|`-separated. Keys are matched without
//!   regard to case, so Macaron's `sentinel_Addrs` works;
//! - a URL: `redis://[user[:password]@]host[:port][/db][?prefix=..&cluster=true&addrs=..]`.

mod macaron;
mod topology;
mod url;

#[cfg(test)]
mod tests;

use std::str::FromStr;
use std::time::Duration;

use session_core::config_string::Secret;
use session_core::{Error, Result};

pub use topology::{Endpoint, Topology};

/// The default Redis port.
pub const DEFAULT_PORT: u16 = 6379;
/// The key prefix used when none is configured.
pub const DEFAULT_PREFIX: &str = "session:";

/// Settings of a [`crate::RedisStore`]: parsed from the config string (`FromStr`, any of the
/// forms in the module docs) or built in code from [`RedisConfig::default`] (a single server
/// on `127.0.0.1:6379`) with a struct literal. Its `Debug` output shows no password.
///
/// ```
/// use session_redis::{Endpoint, RedisConfig, Topology};
///
/// let parsed: RedisConfig = "addr=cache.local:6380,db=2,prefix=app:".parse()?;
/// let built = RedisConfig {
///     topology: Topology::Single(Endpoint::Tcp { host: "cache.local".into(), port: 6380 }),
///     db: 2,
///     prefix: "app:".into(),
///     ..RedisConfig::default()
/// };
/// assert_eq!(parsed, built);
/// # Ok::<(), session_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// Where the data lives.
    pub topology: Topology,
    /// ACL user name (Redis 6+), if any.
    pub username: Option<String>,
    /// Password, if any.
    pub password: Option<Secret>,
    /// Database number (single node and sentinel; a cluster only has database 0).
    pub db: i64,
    /// Prefix of every key this store writes.
    pub prefix: String,
    /// Macaron's `pool_size`: accepted and validated, not used (see the crate docs).
    pub pool_size: Option<u32>,
    /// Macaron's `idle_timeout`: accepted and validated, not used (see the crate docs).
    pub idle_timeout: Option<Duration>,
    /// Time allowed to establish a connection.
    pub connect_timeout: Duration,
    /// Time allowed for one command's answer.
    pub response_timeout: Duration,
    /// How many sessions the near cache holds (`near_cache=N`); 0, the default, turns it
    /// off. Single server only. See "Near cache" in the crate docs.
    pub near_cache: usize,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            topology: Topology::Single(Endpoint::Tcp {
                host: "127.0.0.1".into(),
                port: DEFAULT_PORT,
            }),
            username: None,
            password: None,
            db: 0,
            prefix: DEFAULT_PREFIX.into(),
            pool_size: None,
            idle_timeout: None,
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(3),
            near_cache: 0,
        }
    }
}

/// Why TLS is refused, in the error of every form that asks for it.
const NO_TLS: &str = "this build of session-redis has no TLS support; connect over a \
    trusted network or a TLS tunnel (Macaron's `tls` option disabled certificate \
    verification, which is not carried over)";

impl FromStr for RedisConfig {
    type Err = Error;

    /// Parses a config string in any of the accepted forms. An empty string means a single
    /// server at `127.0.0.1:6379` with the default prefix.
    fn from_str(config: &str) -> Result<Self> {
        let config = config.trim();
        let lower = config.to_ascii_lowercase();
        let parsed = if config.is_empty() {
            RedisConfig::default()
        } else if lower.starts_with("rediss://") || lower.starts_with("valkeys://") {
            return Err(Error::config(
                "url",
                format!("rediss:// needs TLS: {NO_TLS}"),
            ));
        } else if lower.contains("://") {
            url::parse_url(config)?
        } else if config.contains('=') {
            macaron::parse_pairs(config)?
        } else {
            macaron::parse_positional(config)?
        };
        parsed.validate()?;
        Ok(parsed)
    }
}

impl RedisConfig {
    /// The rules every config obeys, parsed or built in code; [`crate::RedisStore::open`]
    /// checks them too.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.prefix.contains(['{', '}']) {
            // A brace would become the hash tag of every key and put all sessions in one slot.
            return Err(Error::config(
                "prefix",
                "must not contain `{` or `}` (they are the cluster hash-tag delimiters)",
            ));
        }
        match &self.topology {
            Topology::Cluster(nodes) => {
                if nodes.is_empty() {
                    return Err(Error::config("addrs", "a cluster needs at least one node"));
                }
                if self.db != 0 {
                    return Err(Error::config("db", "Redis Cluster only has database 0"));
                }
                if nodes.iter().any(|n| matches!(n, Endpoint::Unix(_))) {
                    return Err(Error::config("network", "cluster nodes are TCP addresses"));
                }
            }
            Topology::Sentinel {
                master_name,
                sentinels,
                ..
            } => {
                if master_name.is_empty() {
                    return Err(Error::config(
                        "master_name",
                        "required with ha_mode=sentinel",
                    ));
                }
                if sentinels.is_empty() {
                    return Err(Error::config(
                        "sentinel_addrs",
                        "required with ha_mode=sentinel (addresses separated by `|`)",
                    ));
                }
            }
            Topology::Single(_) => {}
        }
        if self.near_cache > 0 && !matches!(self.topology, Topology::Single(_)) {
            // Tracking is per connection: a cluster would need one tracking connection per
            // master and Sentinel one that follows failovers; neither is built.
            return Err(Error::config(
                "near_cache",
                "needs a single server (not cluster or sentinel)",
            ));
        }
        if self.db < 0 {
            return Err(Error::config("db", "must not be negative"));
        }
        Ok(())
    }
}
