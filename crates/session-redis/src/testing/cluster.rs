//! A throwaway Redis Cluster of masters on free loopback ports, for tests and tools. Start
//! it, point the provider at it, drop the guard to kill every node:
//!
//! ```text
//! let cluster = RedisCluster::start(3)?;
//! // SESSION_PROVIDER=redis
//! // SESSION_PROVIDER_CONFIG=cluster=true,addrs=127.0.0.1:P1|127.0.0.1:P2|127.0.0.1:P3
//! let config = cluster.provider_config("session:");
//! ```

use std::time::{Duration, Instant};

use super::TestServerError;
use super::server::{RedisServer, free_port, port_is_free, redis_cli};

/// How long the nodes may take to agree that the cluster is up.
const FORMATION_LIMIT: Duration = Duration::from_secs(60);

/// Three (or more) cluster masters, each a child process, killed on drop.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
    _tmp: tempfile::TempDir,
}

impl RedisCluster {
    /// Starts `masters` nodes (at least 3), joins them with `redis-cli --cluster create` and
    /// waits until every node reports `cluster_state:ok`.
    pub fn start(masters: usize) -> Result<Self, TestServerError> {
        if masters < 3 {
            return Err(TestServerError::TooFewMasters(masters));
        }
        let tmp = tempfile::tempdir().map_err(TestServerError::io("cannot create a temp dir"))?;
        let mut nodes = Vec::new();
        let mut taken: Vec<u16> = Vec::new();
        for _ in 0..masters {
            // The cluster bus listens on port + 10000: both must be free.
            let port = free_port(|p| {
                !taken.contains(&p) && p.checked_add(10_000).is_some_and(port_is_free)
            })?;
            taken.push(port);
            let dir = tmp.path().join(format!("node-{port}"));
            std::fs::create_dir_all(&dir).map_err(TestServerError::io(format!(
                "cannot create {}",
                dir.display()
            )))?;
            let config_file = dir.join(format!("nodes-{port}.conf"));
            let config_file = config_file.to_string_lossy().into_owned();
            nodes.push(RedisServer::start_in(
                &dir,
                port,
                &[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    &config_file,
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
            )?);
        }
        let addrs: Vec<String> = nodes.iter().map(RedisServer::addr).collect();
        let mut args = vec!["--cluster", "create"];
        args.extend(addrs.iter().map(String::as_str));
        args.extend(["--cluster-replicas", "0", "--cluster-yes"]);
        let out = redis_cli(nodes[0].port(), &args)?;
        if !out.contains("All 16384 slots covered") {
            return Err(TestServerError::ClusterCreate(out));
        }
        let cluster = RedisCluster { nodes, _tmp: tmp };
        cluster.wait_until_ok()?;
        Ok(cluster)
    }

    fn wait_until_ok(&self) -> Result<(), TestServerError> {
        let deadline = Instant::now() + FORMATION_LIMIT;
        loop {
            let mut ok = true;
            for node in &self.nodes {
                ok &= redis_cli(node.port(), &["cluster", "info"])?.contains("cluster_state:ok");
            }
            if ok {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(TestServerError::ClusterNotOk(FORMATION_LIMIT));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `127.0.0.1:<port>` of every master.
    pub fn addrs(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::addr).collect()
    }

    /// The ports of every master.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(RedisServer::port).collect()
    }

    /// The `SESSION_PROVIDER_CONFIG` value for the redis provider with this prefix.
    pub fn provider_config(&self, prefix: &str) -> String {
        format!(
            "cluster=true,addrs={},prefix={prefix}",
            self.addrs().join("|")
        )
    }
}
