//! The provider's config string, parsed into [`RedisConfig`].
//!
//! Three forms are accepted, as Macaron documented them plus the URL form of the client:
//!
//! - positional: `127.0.0.1:6379,100,password` (address, pool size, password);
//! - `key=value` pairs separated by commas: `network`, `addr`, `username`, `password`, `db`,
//!   `pool_size`, `idle_timeout`, `dial_timeout`, `read_timeout`, `write_timeout`, `prefix`,
//!   `ha_mode` (`sentinel` or `cluster`), `master_name`, `sentinel_addrs`, `sentinel_password`,
//!   `cluster`, `addrs`, `tls`. Address lists are `|`-separated. Keys are matched without
//!   regard to case, so Macaron's `sentinel_Addrs` works;
//! - a URL: `redis://[user[:password]@]host[:port][/db][?prefix=..&cluster=true&addrs=..]`.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use percent_encoding::percent_decode_str;
use session_core::config_string::{self, Secret};
use session_core::{Error, Result};

/// The default Redis port.
pub const DEFAULT_PORT: u16 = 6379;
/// The key prefix used when none is configured.
pub const DEFAULT_PREFIX: &str = "session:";

/// Where one Redis server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A TCP host and port.
    Tcp {
        /// Host name or IP address.
        host: String,
        /// TCP port.
        port: u16,
    },
    /// A Unix domain socket (`network=unix`).
    Unix(PathBuf),
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Endpoint::Tcp { host, port } => write!(f, "{host}:{port}"),
            Endpoint::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// Which kind of Redis deployment to talk to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topology {
    /// One server (or a proxy in front of several).
    Single(Endpoint),
    /// Redis Cluster, discovered from these seed nodes.
    Cluster(Vec<Endpoint>),
    /// A master found through Redis Sentinel.
    Sentinel {
        /// The monitored master's name.
        master_name: String,
        /// The sentinels to ask.
        sentinels: Vec<Endpoint>,
        /// Password for the sentinels themselves, when they require one.
        sentinel_password: Option<Secret>,
    },
}

/// The parsed config string. Its `Debug` output shows no password.
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
        }
    }
}

const NO_TLS: &str = "this build of session-redis has no TLS support; connect over a \
    trusted network or a TLS tunnel (Macaron's `tls` option disabled certificate \
    verification, which is not carried over)";

impl RedisConfig {
    /// Parses a config string in any of the accepted forms. An empty string means a single
    /// server at `127.0.0.1:6379` with the default prefix.
    pub fn parse(config: &str) -> Result<Self> {
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
            parse_url(config)?
        } else if config.contains('=') {
            parse_pairs(config)?
        } else {
            parse_positional(config)?
        };
        parsed.validate()?;
        Ok(parsed)
    }

    fn validate(&self) -> Result<()> {
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
        if self.db < 0 {
            return Err(Error::config("db", "must not be negative"));
        }
        Ok(())
    }
}

fn parse_positional(config: &str) -> Result<RedisConfig> {
    let parts: Vec<&str> = config.split(',').map(str::trim).collect();
    if parts.len() > 3 {
        return Err(Error::config(
            config,
            "positional form is `address,pool_size,password`; use key=value pairs for more",
        ));
    }
    let mut parsed = RedisConfig {
        topology: Topology::Single(parse_endpoint("addr", parts[0])?),
        ..RedisConfig::default()
    };
    if let Some(pool) = parts.get(1).filter(|p| !p.is_empty()) {
        parsed.pool_size = Some(config_string::positive("pool_size", pool)?);
    }
    if let Some(password) = parts.get(2).filter(|p| !p.is_empty()) {
        parsed.password = Some(Secret::new(*password));
    }
    Ok(parsed)
}

#[derive(Default)]
struct Pairs {
    network: Option<String>,
    addr: Option<String>,
    addrs: Option<String>,
    cluster: bool,
    ha_mode: Option<String>,
    master_name: Option<String>,
    sentinel_addrs: Option<String>,
    sentinel_password: Option<Secret>,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
}

impl Pairs {
    /// One answer covers both directions, so the longer of the two given timeouts applies.
    fn response_timeout(&self) -> Option<Duration> {
        match (self.read_timeout, self.write_timeout) {
            (Some(r), Some(w)) => Some(r.max(w)),
            (r, w) => r.or(w),
        }
    }

    fn finish(&self, parsed: &mut RedisConfig) -> Result<()> {
        if let Some(timeout) = self.response_timeout() {
            parsed.response_timeout = timeout;
        }
        parsed.topology = topology(self)?;
        Ok(())
    }
}

fn parse_pairs(config: &str) -> Result<RedisConfig> {
    let mut parsed = RedisConfig::default();
    let mut pairs = Pairs::default();
    for (key, value) in config_string::pairs(config, ',')? {
        apply(&mut parsed, &mut pairs, &key, &value)?;
    }
    pairs.finish(&mut parsed)?;
    Ok(parsed)
}

/// Applies one `key=value` (from the pair list or a URL query) to the config being built.
fn apply(parsed: &mut RedisConfig, pairs: &mut Pairs, key: &str, value: &str) -> Result<()> {
    let some = |v: &str| (!v.is_empty()).then(|| v.to_owned());
    match key.to_ascii_lowercase().as_str() {
        "network" => pairs.network = some(value),
        "addr" => pairs.addr = some(value),
        "addrs" => pairs.addrs = some(value),
        "username" => parsed.username = some(value),
        "password" => parsed.password = some(value).map(Secret::new),
        "db" => parsed.db = config_string::number(key, value)?,
        "pool_size" => parsed.pool_size = Some(config_string::positive("pool_size", value)?),
        "idle_timeout" => parsed.idle_timeout = Some(parse_duration(key, value)?),
        "dial_timeout" => parsed.connect_timeout = nonzero(key, parse_duration(key, value)?)?,
        "read_timeout" => pairs.read_timeout = Some(nonzero(key, parse_duration(key, value)?)?),
        "write_timeout" => {
            pairs.write_timeout = Some(nonzero(key, parse_duration(key, value)?)?);
        }
        "prefix" => parsed.prefix = value.to_owned(),
        "ha_mode" => pairs.ha_mode = some(&value.to_ascii_lowercase()),
        "master_name" => pairs.master_name = some(value),
        "sentinel_addrs" => pairs.sentinel_addrs = some(value),
        "sentinel_password" => pairs.sentinel_password = some(value).map(Secret::new),
        "cluster" => pairs.cluster = config_string::boolean(key, value)?,
        "tls" => {
            if config_string::boolean(key, value)? {
                return Err(Error::config(key, NO_TLS));
            }
        }
        _ => return Err(Error::config(key, "unknown redis provider option")),
    }
    Ok(())
}

fn topology(pairs: &Pairs) -> Result<Topology> {
    let network = pairs.network.as_deref().unwrap_or("tcp");
    let endpoint = |field: &str, addr: &str| -> Result<Endpoint> {
        match network.to_ascii_lowercase().as_str() {
            "tcp" | "tcp4" | "tcp6" => parse_endpoint(field, addr),
            "unix" => Ok(Endpoint::Unix(PathBuf::from(addr))),
            other => Err(Error::config(
                "network",
                format!("expected tcp or unix, got {other:?}"),
            )),
        }
    };
    let list = |field: &str, addrs: &str| -> Result<Vec<Endpoint>> {
        addrs
            .split('|')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(|a| parse_endpoint(field, a))
            .collect()
    };
    let mode = match (pairs.ha_mode.as_deref(), pairs.cluster) {
        (Some("cluster"), _) | (None, true) => "cluster",
        (Some("sentinel"), false) => "sentinel",
        (None, false) => "single",
        (Some("sentinel"), true) => {
            return Err(Error::config(
                "cluster",
                "cannot be combined with ha_mode=sentinel",
            ));
        }
        (Some(other), _) => {
            return Err(Error::config(
                "ha_mode",
                format!("expected sentinel or cluster, got {other:?}"),
            ));
        }
    };
    match mode {
        "cluster" => {
            let mut nodes = Vec::new();
            if let Some(addr) = &pairs.addr {
                nodes.push(endpoint("addr", addr)?);
            }
            if let Some(addrs) = &pairs.addrs {
                nodes.extend(list("addrs", addrs)?);
            }
            Ok(Topology::Cluster(nodes))
        }
        "sentinel" => Ok(Topology::Sentinel {
            master_name: pairs.master_name.clone().unwrap_or_default(),
            sentinels: match &pairs.sentinel_addrs {
                Some(addrs) => list("sentinel_addrs", addrs)?,
                None => Vec::new(),
            },
            sentinel_password: pairs.sentinel_password.clone(),
        }),
        _ => {
            if let Some(key) = [
                ("addrs", pairs.addrs.is_some()),
                ("master_name", pairs.master_name.is_some()),
                ("sentinel_addrs", pairs.sentinel_addrs.is_some()),
            ]
            .iter()
            .find_map(|(k, set)| set.then_some(*k))
            {
                return Err(Error::config(
                    key,
                    "only valid with ha_mode=cluster (addrs) or ha_mode=sentinel",
                ));
            }
            let addr = pairs.addr.as_deref().unwrap_or("127.0.0.1:6379");
            Ok(Topology::Single(endpoint("addr", addr)?))
        }
    }
}

fn parse_url(config: &str) -> Result<RedisConfig> {
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

/// `host:port`, `[v6]:port`, `:port` (Go's "all interfaces", dialled as loopback) or `host`.
fn parse_endpoint(field: &str, addr: &str) -> Result<Endpoint> {
    let addr = addr.trim();
    let bad = |why: &str| Error::config(field, format!("{why} in address {addr:?}"));
    let (host, port) = if let Some(rest) = addr.strip_prefix('[') {
        let (host, rest) = rest.split_once(']').ok_or_else(|| bad("unclosed `[`"))?;
        match rest.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if rest.is_empty() => (host, None),
            None => return Err(bad("unexpected text after `]`")),
        }
    } else {
        match addr.split_once(':') {
            Some((host, port)) if !port.contains(':') => (host, Some(port)),
            Some(_) => return Err(bad("IPv6 addresses need brackets")),
            None => (addr, None),
        }
    };
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad("invalid port"))?,
        None => DEFAULT_PORT,
    };
    let host = if host.is_empty() { "127.0.0.1" } else { host };
    if host
        .chars()
        .any(|c| c.is_whitespace() || c == '/' || c == '@')
    {
        return Err(bad("invalid host"));
    }
    Ok(Endpoint::Tcp {
        host: host.to_owned(),
        port,
    })
}

/// A zero timeout would fail every request, so it is refused rather than obeyed.
fn nonzero(key: &str, d: Duration) -> Result<Duration> {
    if d.is_zero() {
        Err(Error::config(key, "must be greater than zero"))
    } else {
        Ok(d)
    }
}

/// Seconds as a bare number (Macaron's form), or a number with `ms`, `s` or `m`.
fn parse_duration(key: &str, value: &str) -> Result<Duration> {
    let value = value.trim();
    let bad = || {
        Error::config(
            key,
            format!("expected seconds or a duration like 500ms / 3s / 1m, got {value:?}"),
        )
    };
    let (number, unit_ms) = if let Some(n) = value.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = value.strip_suffix('s') {
        (n, 1000)
    } else if let Some(n) = value.strip_suffix('m') {
        (n, 60_000)
    } else {
        (value, 1000)
    };
    let n: u64 = number.trim().parse().map_err(|_| bad())?;
    n.checked_mul(unit_ms)
        .map(Duration::from_millis)
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: u16) -> Endpoint {
        Endpoint::Tcp {
            host: host.into(),
            port,
        }
    }

    fn field_of(e: Error) -> String {
        match e {
            Error::Config { field, .. } => field,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn empty_is_the_local_default() {
        let c = RedisConfig::parse("").unwrap();
        assert_eq!(c, RedisConfig::default());
        assert_eq!(c.topology, Topology::Single(tcp("127.0.0.1", 6379)));
        assert_eq!(c.prefix, "session:");
    }

    #[test]
    fn positional_form() {
        let c = RedisConfig::parse("127.0.0.1:6380,100,s3cret").unwrap();
        assert_eq!(c.topology, Topology::Single(tcp("127.0.0.1", 6380)));
        assert_eq!(c.pool_size, Some(100));
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("s3cret"));
        let c = RedisConfig::parse("redis.example:7000").unwrap();
        assert_eq!(c.topology, Topology::Single(tcp("redis.example", 7000)));
        assert_eq!(c.password, None);
        let c = RedisConfig::parse(":6379").unwrap();
        assert_eq!(c.topology, Topology::Single(tcp("127.0.0.1", 6379)));
        assert_eq!(
            field_of(RedisConfig::parse("a:1,x,pw").unwrap_err()),
            "pool_size"
        );
        assert!(RedisConfig::parse("a:1,1,pw,extra").is_err());
    }

    #[test]
    fn macaron_key_value_form() {
        let c = RedisConfig::parse(
            "network=tcp,addr=:6379,password=macaron,db=2,pool_size=100,idle_timeout=180,prefix=app:",
        )
        .unwrap();
        assert_eq!(c.topology, Topology::Single(tcp("127.0.0.1", 6379)));
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("macaron"));
        assert_eq!(c.db, 2);
        assert_eq!(c.pool_size, Some(100));
        assert_eq!(c.idle_timeout, Some(Duration::from_secs(180)));
        assert_eq!(c.prefix, "app:");
    }

    #[test]
    fn unix_socket() {
        let c = RedisConfig::parse("network=unix,addr=/run/redis.sock").unwrap();
        assert_eq!(
            c.topology,
            Topology::Single(Endpoint::Unix("/run/redis.sock".into()))
        );
        let c = RedisConfig::parse("redis+unix:///run/redis.sock?prefix=x:").unwrap();
        assert_eq!(
            c.topology,
            Topology::Single(Endpoint::Unix("/run/redis.sock".into()))
        );
        assert_eq!(c.prefix, "x:");
        assert_eq!(
            field_of(RedisConfig::parse("network=udp").unwrap_err()),
            "network"
        );
    }

    #[test]
    fn sentinel_form() {
        let c = RedisConfig::parse(
            "ha_mode=sentinel,master_name=mymaster,sentinel_Addrs=10.0.0.1:26379|10.0.0.2:26379,\
             password=pw,db=1,dial_timeout=2,read_timeout=500ms",
        )
        .unwrap();
        assert_eq!(
            c.topology,
            Topology::Sentinel {
                master_name: "mymaster".into(),
                sentinels: vec![tcp("10.0.0.1", 26379), tcp("10.0.0.2", 26379)],
                sentinel_password: None,
            }
        );
        assert_eq!(c.db, 1);
        assert_eq!(c.connect_timeout, Duration::from_secs(2));
        assert_eq!(c.response_timeout, Duration::from_millis(500));
        assert_eq!(
            field_of(RedisConfig::parse("ha_mode=sentinel,sentinel_addrs=a:1").unwrap_err()),
            "master_name"
        );
        assert_eq!(
            field_of(RedisConfig::parse("ha_mode=sentinel,master_name=m").unwrap_err()),
            "sentinel_addrs"
        );
    }

    #[test]
    fn cluster_forms() {
        let want = Topology::Cluster(vec![
            tcp("127.0.0.1", 7100),
            tcp("127.0.0.1", 7101),
            tcp("127.0.0.1", 7102),
        ]);
        let c =
            RedisConfig::parse("cluster=true,addrs=127.0.0.1:7100|127.0.0.1:7101|127.0.0.1:7102")
                .unwrap();
        assert_eq!(c.topology, want);
        let c = RedisConfig::parse(
            "ha_mode=cluster,addrs=127.0.0.1:7100|127.0.0.1:7101|127.0.0.1:7102,prefix=s:",
        )
        .unwrap();
        assert_eq!(c.topology, want);
        let c = RedisConfig::parse(
            "redis://127.0.0.1:7100?cluster=true&addrs=127.0.0.1:7101|127.0.0.1:7102",
        )
        .unwrap();
        assert_eq!(c.topology, want);
        assert_eq!(
            field_of(RedisConfig::parse("cluster=true,addrs=a:1,db=3").unwrap_err()),
            "db"
        );
        assert_eq!(
            field_of(RedisConfig::parse("cluster=maybe").unwrap_err()),
            "cluster"
        );
        assert_eq!(
            field_of(RedisConfig::parse("ha_mode=ring").unwrap_err()),
            "ha_mode"
        );
        assert_eq!(
            field_of(RedisConfig::parse("addrs=a:1|b:2").unwrap_err()),
            "addrs"
        );
    }

    #[test]
    fn url_form() {
        let c =
            RedisConfig::parse("redis://app:p%40ss@cache.local:6390/4?prefix=web:&read_timeout=2")
                .unwrap();
        assert_eq!(c.topology, Topology::Single(tcp("cache.local", 6390)));
        assert_eq!(c.username.as_deref(), Some("app"));
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("p@ss"));
        assert_eq!(c.db, 4);
        assert_eq!(c.prefix, "web:");
        assert_eq!(c.response_timeout, Duration::from_secs(2));
        let c = RedisConfig::parse("redis://:pw@[::1]").unwrap();
        assert_eq!(c.topology, Topology::Single(tcp("::1", 6379)));
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("pw"));
        assert_eq!(
            field_of(RedisConfig::parse("redis://h/x").unwrap_err()),
            "db"
        );
        assert_eq!(
            field_of(RedisConfig::parse("redis://h?colour=red").unwrap_err()),
            "colour"
        );
        assert_eq!(
            field_of(RedisConfig::parse("redis://h?password=x").unwrap_err()),
            "password"
        );
        assert_eq!(
            field_of(RedisConfig::parse("memcache://h").unwrap_err()),
            "url"
        );
        assert_eq!(
            field_of(RedisConfig::parse("redis://h/#insecure").unwrap_err()),
            "url"
        );
    }

    #[test]
    fn tls_is_a_clear_error() {
        let e = RedisConfig::parse("rediss://cache.local:6380").unwrap_err();
        assert!(e.to_string().contains("TLS"), "{e}");
        let e = RedisConfig::parse("addr=:6379,tls=true").unwrap_err();
        assert_eq!(field_of(e), "tls");
        assert!(RedisConfig::parse("addr=:6379,tls=false").is_ok());
    }

    #[test]
    fn unknown_key_is_named() {
        let e = RedisConfig::parse("addr=:6379,colour=blue").unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
        assert_eq!(field_of(e), "colour");
        assert_eq!(
            field_of(RedisConfig::parse("addr=:6379,justaword").unwrap_err()),
            "justaword"
        );
    }

    #[test]
    fn bad_numbers() {
        assert_eq!(field_of(RedisConfig::parse("db=x").unwrap_err()), "db");
        assert_eq!(field_of(RedisConfig::parse("db=-1").unwrap_err()), "db");
        assert_eq!(
            field_of(RedisConfig::parse("pool_size=0").unwrap_err()),
            "pool_size"
        );
        assert_eq!(
            field_of(RedisConfig::parse("pool_size=-5").unwrap_err()),
            "pool_size"
        );
        assert_eq!(
            field_of(RedisConfig::parse("idle_timeout=soon").unwrap_err()),
            "idle_timeout"
        );
        assert_eq!(
            field_of(RedisConfig::parse("dial_timeout=99999999999999999999").unwrap_err()),
            "dial_timeout"
        );
        assert_eq!(
            field_of(RedisConfig::parse("addr=h:99999").unwrap_err()),
            "addr"
        );
        assert_eq!(
            field_of(RedisConfig::parse("addr=h:0").unwrap_err()),
            "addr"
        );
        assert_eq!(
            field_of(RedisConfig::parse("addr=::1:6379").unwrap_err()),
            "addr"
        );
    }

    #[test]
    fn read_and_write_timeouts_take_the_longer() {
        let c = RedisConfig::parse("read_timeout=3,write_timeout=1").unwrap();
        assert_eq!(c.response_timeout, Duration::from_secs(3));
        let c = RedisConfig::parse("write_timeout=1m,read_timeout=2s").unwrap();
        assert_eq!(c.response_timeout, Duration::from_secs(60));
        let c = RedisConfig::parse("write_timeout=250ms").unwrap();
        assert_eq!(c.response_timeout, Duration::from_millis(250));
    }

    #[test]
    fn prefix_rules() {
        assert_eq!(RedisConfig::parse("prefix=").unwrap().prefix, "");
        assert_eq!(
            field_of(RedisConfig::parse("prefix=a{b}").unwrap_err()),
            "prefix"
        );
    }

    #[test]
    fn debug_hides_passwords() {
        let c = RedisConfig::parse(
            "ha_mode=sentinel,master_name=m,sentinel_addrs=a:1,password=hunter2,sentinel_password=swordfish",
        )
        .unwrap();
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("swordfish"),
            "{shown}"
        );
    }
}
