//! One connection type over the three deployments, so the store's code is the same for all.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection,
};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{
    AsyncConnectionConfig, Client, Cmd, ConnectionAddr, FromRedisValue, IntoConnectionInfo,
    Pipeline, ProtocolVersion, RedisConnectionInfo, RedisError, RedisFuture, RedisResult, Value,
};
use tokio::sync::Mutex;

use crate::config::{Endpoint, RedisConfig, Topology};

/// A cheaply cloneable, multiplexed connection to whichever deployment is configured.
#[derive(Clone)]
pub(crate) enum Conn {
    /// Reconnects by itself after a failure; requests during an outage fail fast.
    Single(ConnectionManager),
    /// Routes each command by its key's slot and follows MOVED/ASK redirections.
    Cluster(ClusterConnection),
    /// Asks the sentinels for the master, and asks again after a connection failure.
    Sentinel(Arc<SentinelConn>),
}

impl Conn {
    /// Connects according to `config`; fails (as a backend error) when the server is down,
    /// like Macaron's initial PING.
    pub(crate) async fn open(config: &RedisConfig) -> RedisResult<Conn> {
        let redis_info = redis_settings(config);
        match &config.topology {
            Topology::Single(endpoint) => {
                let info = address(endpoint)
                    .into_connection_info()?
                    .set_redis_settings(redis_info);
                let client = Client::open(info)?;
                let manager_config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(config.connect_timeout))
                    .set_response_timeout(Some(config.response_timeout))
                    // Few, short retries: during an outage a request should fail (503) soon
                    // rather than hang; the manager keeps reconnecting in the background.
                    .set_number_of_retries(1)
                    .set_min_delay(Duration::from_millis(50))
                    .set_max_delay(Duration::from_millis(500));
                let manager = ConnectionManager::new_with_config(client, manager_config).await?;
                Ok(Conn::Single(manager))
            }
            Topology::Cluster(nodes) => {
                let infos = nodes
                    .iter()
                    .map(|n| address(n).into_connection_info())
                    .collect::<RedisResult<Vec<_>>>()?;
                let mut builder = ClusterClientBuilder::new(infos)
                    .connection_timeout(config.connect_timeout)
                    .response_timeout(config.response_timeout)
                    .retries(2);
                if let Some(user) = &config.username {
                    builder = builder.username(user);
                }
                if let Some(password) = &config.password {
                    builder = builder.password(password.expose());
                }
                let connection = builder.build()?.get_async_connection().await?;
                Ok(Conn::Cluster(connection))
            }
            Topology::Sentinel {
                master_name,
                sentinels,
                sentinel_password,
            } => {
                let mut builder = SentinelClientBuilder::new(
                    sentinels.iter().map(address),
                    master_name,
                    SentinelServerType::Master,
                )?
                .set_client_to_redis_db(config.db);
                if let Some(user) = &config.username {
                    builder = builder.set_client_to_redis_username(user);
                }
                if let Some(password) = &config.password {
                    builder = builder.set_client_to_redis_password(password.expose());
                }
                if let Some(password) = sentinel_password {
                    builder = builder.set_client_to_sentinel_password(password.expose());
                }
                let sentinel = SentinelConn {
                    client: Mutex::new(builder.build()?),
                    current: Mutex::new(None),
                    connection_config: AsyncConnectionConfig::new()
                        .set_connection_timeout(Some(config.connect_timeout))
                        .set_response_timeout(Some(config.response_timeout)),
                    timeout: config.connect_timeout,
                };
                sentinel.connection().await?;
                Ok(Conn::Sentinel(Arc::new(sentinel)))
            }
        }
    }

    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Conn::Cluster(_))
    }

    /// Sends one command and converts its answer, as `Cmd::query_async` does. On a single
    /// server the call is not boxed: through [`ConnectionLike`] every command cost two boxed
    /// futures (this type's and the connection manager's), two allocations per command on
    /// the hot path of every read.
    pub(crate) async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> RedisResult<T> {
        let value = match self {
            Conn::Single(manager) => send_single(&mut manager.clone(), cmd).await,
            other => other.clone().req_packed_command(cmd).await,
        }?;
        Ok(redis::from_redis_value(value.extract_error()?)?)
    }
}

/// One command on the single server's connection.
async fn send_single(manager: &mut ConnectionManager, cmd: &Cmd) -> RedisResult<Value> {
    match manager.send_packed_command(cmd).await {
        // A refused connect means the command was never sent, so it is safe to send again:
        // the failure that was cached from the outage has just started a fresh reconnect,
        // and this lets the first request after a restart succeed instead of failing on the
        // stale attempt.
        Err(e) if e.is_connection_refusal() => manager.send_packed_command(cmd).await,
        other => other,
    }
}

/// A RESP3 client for the single server of `config` and the settings of its connections,
/// for the near cache's tracking connection; `None` for a cluster or Sentinel.
pub(crate) fn tracking_client(
    config: &RedisConfig,
) -> RedisResult<Option<(Client, AsyncConnectionConfig)>> {
    let Topology::Single(endpoint) = &config.topology else {
        return Ok(None);
    };
    let info = address(endpoint)
        .into_connection_info()?
        .set_redis_settings(redis_settings(config).set_protocol(ProtocolVersion::RESP3));
    let settings = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(config.connect_timeout))
        .set_response_timeout(Some(config.response_timeout));
    Ok(Some((Client::open(info)?, settings)))
}

fn redis_settings(config: &RedisConfig) -> RedisConnectionInfo {
    let mut info = RedisConnectionInfo::default().set_db(config.db);
    if let Some(user) = &config.username {
        info = info.set_username(user);
    }
    if let Some(password) = &config.password {
        info = info.set_password(password.expose());
    }
    info
}

fn address(endpoint: &Endpoint) -> ConnectionAddr {
    match endpoint {
        Endpoint::Tcp { host, port } => ConnectionAddr::Tcp(host.clone(), *port),
        Endpoint::Unix(path) => ConnectionAddr::Unix(path.clone()),
    }
}

/// The master's connection as the sentinels last reported it.
pub(crate) struct SentinelConn {
    client: Mutex<SentinelClient>,
    current: Mutex<Option<MultiplexedConnection>>,
    connection_config: AsyncConnectionConfig,
    timeout: Duration,
}

impl SentinelConn {
    async fn connection(&self) -> RedisResult<MultiplexedConnection> {
        let mut current = self.current.lock().await;
        if let Some(connection) = current.as_ref() {
            return Ok(connection.clone());
        }
        let resolve = async {
            let client = self.client.lock().await.async_get_client().await?;
            client
                .get_multiplexed_async_connection_with_config(&self.connection_config)
                .await
        };
        // Sentinel queries have no timeout of their own; a silent sentinel must not hang a
        // request.
        let connection = tokio::time::timeout(self.timeout, resolve)
            .await
            .map_err(|_| {
                RedisError::from(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "timed out asking the sentinels for the master",
                ))
            })??;
        *current = Some(connection.clone());
        Ok(connection)
    }

    async fn forget_if_broken(&self, error: &RedisError) {
        // After a failover the old master answers READONLY (it became a replica) or is gone.
        let failover = error.code() == Some("READONLY");
        if failover
            || error.is_io_error()
            || error.is_connection_dropped()
            || error.is_connection_refusal()
            || error.is_timeout()
        {
            *self.current.lock().await = None;
        }
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => Box::pin(send_single(c, cmd)),
            Conn::Cluster(c) => c.req_packed_command(cmd),
            Conn::Sentinel(s) => Box::pin(async move {
                let mut connection = s.connection().await?;
                let result = connection.req_packed_command(cmd).await;
                if let Err(e) = &result {
                    s.forget_if_broken(e).await;
                }
                result
            }),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Sentinel(s) => Box::pin(async move {
                let mut connection = s.connection().await?;
                let result = connection
                    .req_packed_commands(pipeline, offset, count)
                    .await;
                if let Err(e) = &result {
                    s.forget_if_broken(e).await;
                }
                result
            }),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
            Conn::Sentinel(_) => 0,
        }
    }
}
