//! The connection pool: deadpool over sqlx connections.
//!
//! sqlx's own pool pings every connection when it goes back to the pool (sqlx-core 0.9,
//! `return_to_pool`, with no option to turn it off), which doubles the round trips of an
//! operation that is one statement. This pool hands a connection back as it is, pings only
//! one that sat unused long enough for a firewall or the server to have dropped it, and
//! closes one whose last use did not end cleanly instead of handing it to the next request.

use std::time::Duration;

use deadpool::managed::{self, Metrics, Object, PoolError, RecycleResult};
use session_core::{Error, Result};
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::{ConnectOptions, Connection};

use crate::NAME;

/// A pooled connection unused at least this long is pinged before it is handed out.
pub const PING_IF_IDLE_FOR: Duration = Duration::from_secs(30);

/// The connection pool of a [`MySqlStore`](crate::MySqlStore); build one with
/// [`ConnectionManager::into_pool`].
pub type Pool = managed::Pool<ConnectionManager>;

/// Opens and checks the pool's connections (a deadpool [`Manager`](managed::Manager)).
#[derive(Clone)]
pub struct ConnectionManager {
    options: MySqlConnectOptions,
    acquire_timeout: Duration,
}

impl std::fmt::Debug for ConnectionManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not derived: `MySqlConnectOptions`'s own `Debug` prints the password.
        f.debug_struct("ConnectionManager")
            .field("host", &self.options.get_host())
            .field("port", &self.options.get_port())
            .field("acquire_timeout", &self.acquire_timeout)
            .finish_non_exhaustive()
    }
}

impl ConnectionManager {
    /// Connects with `options`. A request waits at most `acquire_timeout` for a connection,
    /// connecting included, before it fails with [`Error::Backend`].
    pub fn new(options: MySqlConnectOptions, acquire_timeout: Duration) -> Self {
        ConnectionManager {
            options,
            acquire_timeout,
        }
    }

    /// How long a request waits for a connection.
    pub fn acquire_timeout(&self) -> Duration {
        self.acquire_timeout
    }

    /// A pool of at most `size` connections, opened on demand.
    pub fn into_pool(self, size: u32) -> Result<Pool> {
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        Pool::builder(self)
            .max_size(size)
            .build()
            .map_err(|e| Error::backend(NAME, e))
    }
}

impl managed::Manager for ConnectionManager {
    type Type = MySqlConnection;
    type Error = sqlx::Error;

    async fn create(&self) -> std::result::Result<MySqlConnection, sqlx::Error> {
        self.options.connect().await
    }

    async fn recycle(
        &self,
        conn: &mut MySqlConnection,
        metrics: &Metrics,
    ) -> RecycleResult<sqlx::Error> {
        // deadpool measures from the previous check-out, not the return: at worst a
        // connection that was held a long time is pinged once more than needed.
        if metrics.last_used() >= PING_IF_IDLE_FOR {
            conn.ping().await?;
        }
        Ok(())
    }
}

/// A connection checked out for one operation.
///
/// It goes back to the pool only through [`Lease::release`] after a clean outcome. Dropped
/// any other way (an I/O error, or a request future cancelled mid-statement, which can leave
/// unread replies or an open transaction on the connection) it is closed, so the next request
/// gets a fresh connection rather than a broken one.
pub(crate) struct Lease(Option<Object<ConnectionManager>>);

impl Lease {
    /// Checks a connection out, waiting at most the manager's acquire timeout.
    pub(crate) async fn acquire(pool: &Pool) -> Result<Lease> {
        let timeout = pool.manager().acquire_timeout;
        match tokio::time::timeout(timeout, pool.get()).await {
            Ok(Ok(conn)) => Ok(Lease(Some(conn))),
            Ok(Err(PoolError::Backend(e))) => Err(Error::backend(NAME, e)),
            Ok(Err(e)) => Err(Error::backend(NAME, e)),
            Err(_) => Err(Error::backend(
                NAME,
                format!(
                    "no database connection within {timeout:?}: all {} pooled connections \
                     are busy, or the server does not answer",
                    pool.status().max_size
                ),
            )),
        }
    }

    /// The connection.
    pub(crate) fn conn(&mut self) -> Result<&mut MySqlConnection> {
        // `None` only once `release` or `drop` took it, after which `self` is gone.
        self.0
            .as_deref_mut()
            .ok_or_else(|| Error::backend(NAME, "the pooled connection was already released"))
    }

    /// Returns the connection to the pool when `result` shows the exchange ended cleanly: a
    /// success, or an error the server reported (the protocol is still in step), and closes
    /// it otherwise. Passes `result` through.
    ///
    /// Not for a result from inside a transaction that failed: drop the lease instead, so
    /// the rollback sqlx queues on the connection cannot keep locks until its next use.
    pub(crate) fn release<T>(
        mut self,
        result: std::result::Result<T, sqlx::Error>,
    ) -> std::result::Result<T, sqlx::Error> {
        if matches!(result, Ok(_) | Err(sqlx::Error::Database(_))) {
            // Dropping the object hands it back to the pool.
            drop(self.0.take());
        }
        result
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            // Detached from the pool (which opens a new one when needed) and dropped, which
            // closes the socket: the server ends the session and rolls back anything open.
            drop(Object::take(conn));
        }
    }
}
