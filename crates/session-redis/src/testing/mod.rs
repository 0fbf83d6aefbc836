//! Test support for this crate's tests and for tools that run the provider against servers
//! they start themselves (the workspace's xtask): private `redis-server` processes, a
//! throwaway Redis Cluster, a command-counting proxy, and prefixes no other run uses.
//!
//! Enabled by the `test-support` feature; nothing here is part of the provider.
//!
//! ```no_run
//! use session_redis::testing::{self, cluster::RedisCluster};
//!
//! # fn main() -> Result<(), testing::TestServerError> {
//! let cluster = RedisCluster::start(3)?; // three masters on free loopback ports
//! let config = cluster.provider_config(&testing::unique_prefix()?);
//! // ... open the provider with `config`; dropping `cluster` kills every node.
//! # Ok(())
//! # }
//! ```

pub mod cluster;
pub mod proxy;
pub mod server;

use std::time::Duration;

/// The machine's Redis, where the project's test machines run one.
pub const LOCAL_REDIS: &str = "127.0.0.1:6379";

/// How long [`require_redis`] waits for `PING` to be answered.
const REACH_LIMIT: Duration = Duration::from_secs(10);

/// Why a test server could not be started, reached or driven.
#[derive(Debug, thiserror::Error)]
pub enum TestServerError {
    /// A system call failed: a temp dir, a port, a file, or spawning a program.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, naming the program to install when it is missing.
        what: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The kernel handed out no loopback port that met the caller's condition.
    #[error("found no free loopback port")]
    NoFreePort,
    /// `redis-server` ended right after it was spawned.
    #[error("redis-server on port {port} exited at start: {status}")]
    ExitedAtStart {
        /// Its port.
        port: u16,
        /// How it ended.
        status: std::process::ExitStatus,
    },
    /// `redis-server` did not answer `PING` within the start-up limit.
    #[error("redis-server on port {port} did not answer PING within {limit:?}")]
    NoPing {
        /// Its port.
        port: u16,
        /// How long it was given.
        limit: Duration,
    },
    /// A cluster needs at least three masters.
    #[error("a Redis Cluster needs at least three masters, not {0}")]
    TooFewMasters(usize),
    /// `redis-cli --cluster create` did not cover every slot.
    #[error("redis-cli --cluster create failed:\n{0}")]
    ClusterCreate(String),
    /// The nodes did not agree that the cluster is up within the limit.
    #[error("the cluster did not reach cluster_state:ok within {0:?}")]
    ClusterNotOk(Duration),
    /// The operating system's random number generator failed.
    #[error("OS random numbers: {0}")]
    Random(getrandom::Error),
    /// A Redis that the test expects to be running did not answer.
    #[error("Redis at {addr} is not reachable ({reason}); start redis-server there")]
    Unreachable {
        /// `host:port`.
        addr: String,
        /// The client's error, or the time it waited.
        reason: String,
    },
}

impl TestServerError {
    /// Wraps an I/O error with what was being done.
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| TestServerError::Io { what, source }
    }
}

/// A key prefix no other test run uses, so stores never see each other's sessions.
pub fn unique_prefix() -> Result<String, TestServerError> {
    let n = getrandom::u64().map_err(TestServerError::Random)?;
    Ok(format!("session-redis-test:{n:016x}:"))
}

/// Checks that Redis at `addr` answers `PING` within ten seconds, so a test against the
/// machine's Redis fails with a message saying what to start rather than with a timeout.
pub async fn require_redis(addr: &str) -> Result<(), TestServerError> {
    let reachable = async {
        let client = redis::Client::open(format!("redis://{addr}/"))?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    };
    let reason = match tokio::time::timeout(REACH_LIMIT, reachable).await {
        Ok(Ok(_)) => return Ok(()),
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer to PING within {REACH_LIMIT:?}"),
    };
    Err(TestServerError::Unreachable {
        addr: addr.to_owned(),
        reason,
    })
}

/// One command's line of `INFO commandstats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommandStat {
    /// How many times it ran.
    pub calls: u64,
    /// Microseconds spent in it (a script's include the commands it ran).
    pub usec: u64,
}

/// `INFO commandstats` of the server behind `conn`, by command name (`get`, `evalsha`,
/// `client|list`, ...).
pub async fn commandstats(
    conn: &mut impl redis::aio::ConnectionLike,
) -> redis::RedisResult<std::collections::BTreeMap<String, CommandStat>> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await?;
    Ok(info
        .lines()
        .filter_map(|line| {
            let (name, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let field = |key: &str| {
                stats
                    .split(',')
                    .find_map(|f| f.strip_prefix(key)?.strip_prefix('='))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_default()
            };
            Some((
                name.to_owned(),
                CommandStat {
                    calls: field("calls"),
                    usec: field("usec"),
                },
            ))
        })
        .collect())
}

/// The index shard key that lists session `id` under `prefix`, for tests that inspect or
/// damage the index behind the store's back.
pub fn index_key(prefix: &str, id: &str) -> String {
    crate::keys::Keys::new(prefix).index_of(id).to_owned()
}

/// The key of `owner`'s session set under `prefix`.
pub fn owner_key(prefix: &str, owner: &str) -> String {
    crate::keys::Keys::new(prefix).owner(owner).0
}

/// Every index shard key under `prefix`.
pub fn index_keys(prefix: &str) -> Vec<String> {
    crate::keys::Keys::new(prefix).indexes().to_vec()
}

/// What a manager with a 10-minute idle lifetime hands its store: the idle lifetime that
/// gives the largest index slack (60 s), for tests that open a [`crate::RedisStore`]
/// directly.
pub fn context() -> session_core::ProviderContext {
    session_core::ProviderContext {
        clock: std::sync::Arc::new(session_core::SystemClock),
        max_record_size: 1 << 20,
        max_lifetime_ms: 600_000,
    }
}
