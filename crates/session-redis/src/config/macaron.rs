//! Macaron's comma forms: positional `address,pool_size,password` and `key=value` pairs,
//! whose keys a URL's query may also carry.

use std::path::PathBuf;
use std::time::Duration;

use session_core::config_string::{self, Secret};
use session_core::{Error, Result};

use super::topology::{Endpoint, Topology, parse_endpoint};
use super::{NO_TLS, RedisConfig};

pub(super) fn parse_positional(config: &str) -> Result<RedisConfig> {
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

/// What the pairs say beyond the fields they set directly; [`Pairs::finish`] turns it
/// into the topology and the response timeout.
#[derive(Default)]
pub(super) struct Pairs {
    pub(super) network: Option<String>,
    pub(super) addr: Option<String>,
    pub(super) addrs: Option<String>,
    pub(super) cluster: bool,
    pub(super) ha_mode: Option<String>,
    pub(super) master_name: Option<String>,
    pub(super) sentinel_addrs: Option<String>,
    pub(super) sentinel_password: Option<Secret>,
    pub(super) read_timeout: Option<Duration>,
    pub(super) write_timeout: Option<Duration>,
}

impl Pairs {
    /// One answer covers both directions, so the longer of the two given timeouts applies.
    fn response_timeout(&self) -> Option<Duration> {
        match (self.read_timeout, self.write_timeout) {
            (Some(r), Some(w)) => Some(r.max(w)),
            (r, w) => r.or(w),
        }
    }

    pub(super) fn finish(&self, parsed: &mut RedisConfig) -> Result<()> {
        if let Some(timeout) = self.response_timeout() {
            parsed.response_timeout = timeout;
        }
        parsed.topology = topology(self)?;
        Ok(())
    }
}

pub(super) fn parse_pairs(config: &str) -> Result<RedisConfig> {
    let mut parsed = RedisConfig::default();
    let mut pairs = Pairs::default();
    for (key, value) in config_string::pairs(config, ',')? {
        apply(&mut parsed, &mut pairs, &key, &value)?;
    }
    pairs.finish(&mut parsed)?;
    Ok(parsed)
}

/// Applies one `key=value` (from the pair list or a URL query) to the config being built.
pub(super) fn apply(
    parsed: &mut RedisConfig,
    pairs: &mut Pairs,
    key: &str,
    value: &str,
) -> Result<()> {
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
        "near_cache" => parsed.near_cache = config_string::number(key, value)?,
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
