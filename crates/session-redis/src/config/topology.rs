//! Where the data lives: [`Endpoint`]s and the [`Topology`] they form (one server, a
//! cluster, or a master found through sentinels), and how an address is read.

use std::fmt;
use std::path::PathBuf;

use session_core::config_string::Secret;
use session_core::{Error, Result};

use super::DEFAULT_PORT;

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

/// `host:port`, `[v6]:port`, `:port` (Go's "all interfaces", dialled as loopback) or `host`.
pub(super) fn parse_endpoint(field: &str, addr: &str) -> Result<Endpoint> {
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
