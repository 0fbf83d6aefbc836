//! The connection pool: deadpool over sqlx connections.
//!
//! sqlx's own pool pings every connection when it goes back to the pool, with no option to
//! turn it off, which doubles the round trips of an operation that is one statement. This pool hands a connection back as it is, pings only
//! one that sat unused long enough for a firewall or the server to have dropped it, and
//! closes one whose last use did not end cleanly instead of handing it to the next request.

use std::fmt;
use std::time::Duration;

use deadpool::managed::{self, Metrics, Object, PoolError, RecycleResult};
use session_core::{Error, Result};
use sqlx::{ConnectOptions, Connection};

/// A pooled connection unused at least this long is pinged before it is handed out.
pub const PING_IF_IDLE_FOR: Duration = Duration::from_secs(30);

/// A sqlx-based provider as the pool sees it: its connection type, and the name its errors
/// carry.
///
/// Implemented by a provider on a type of its own (usually its [`Provider`] factory), so
/// that [`Pool`] and [`ConnectionManager`] can name the provider in
/// [`Error::Backend`] without a driver-specific line in this crate.
///
/// [`Provider`]: session_core::Provider
pub trait SqlxProvider: Send + Sync + 'static {
    /// The provider's registry name, as in [`Error::Backend`]'s `provider`.
    const NAME: &'static str;

    /// The sqlx connection the pool holds (`PgConnection`, `MySqlConnection`, ...).
    type Connection: Connection;

    /// Where `options` connect, for `Debug` output: the options' own `Debug` prints the
    /// password.
    fn endpoint(options: &ConnectOptionsOf<Self>) -> Endpoint<'_>;
}

/// Where a provider connects, without the password: what `Debug` output shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint<'a> {
    /// Host name or address.
    pub host: &'a str,
    /// TCP port.
    pub port: u16,
    /// Database, when one is set.
    pub database: Option<&'a str>,
    /// User name.
    pub user: &'a str,
}

/// The sqlx connect options of a provider's connection type.
pub type ConnectOptionsOf<P> = <<P as SqlxProvider>::Connection as Connection>::Options;

/// The connection pool of a sqlx-based provider; build one with
/// [`ConnectionManager::into_pool`].
pub type Pool<P> = managed::Pool<ConnectionManager<P>>;

/// Opens and checks the pool's connections (a deadpool [`Manager`](managed::Manager)).
pub struct ConnectionManager<P: SqlxProvider> {
    options: ConnectOptionsOf<P>,
    acquire_timeout: Duration,
}

impl<P: SqlxProvider> Clone for ConnectionManager<P> {
    // Not derived: that would require `P: Clone` of the marker type too.
    fn clone(&self) -> Self {
        ConnectionManager {
            options: self.options.clone(),
            acquire_timeout: self.acquire_timeout,
        }
    }
}

impl<P: SqlxProvider> fmt::Debug for ConnectionManager<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not derived: the connect options' own `Debug` prints the password.
        let endpoint = P::endpoint(&self.options);
        f.debug_struct("ConnectionManager")
            .field("host", &endpoint.host)
            .field("port", &endpoint.port)
            .field("acquire_timeout", &self.acquire_timeout)
            .finish_non_exhaustive()
    }
}

impl<P: SqlxProvider> ConnectionManager<P> {
    /// Connects with `options`. A request waits at most `acquire_timeout` for a connection,
    /// connecting included, before it fails with [`Error::Backend`].
    pub fn new(options: ConnectOptionsOf<P>, acquire_timeout: Duration) -> Self {
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
    pub fn into_pool(self, size: u32) -> Result<Pool<P>> {
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        Pool::builder(self)
            .max_size(size)
            .build()
            .map_err(|e| Error::backend(P::NAME, e))
    }
}

impl<P: SqlxProvider> managed::Manager for ConnectionManager<P> {
    type Type = P::Connection;
    type Error = sqlx::Error;

    async fn create(&self) -> std::result::Result<P::Connection, sqlx::Error> {
        self.options.connect().await
    }

    async fn recycle(
        &self,
        conn: &mut P::Connection,
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
pub struct Lease<P: SqlxProvider>(Option<Object<ConnectionManager<P>>>);

impl<P: SqlxProvider> fmt::Debug for Lease<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease")
            .field("provider", &P::NAME)
            .field("held", &self.0.is_some())
            .finish()
    }
}

impl<P: SqlxProvider> Lease<P> {
    /// Checks a connection out, waiting at most the manager's acquire timeout; past it, or
    /// when connecting fails, an [`Error::Backend`] that says why.
    pub async fn acquire(pool: &Pool<P>) -> Result<Lease<P>> {
        let timeout = pool.manager().acquire_timeout;
        match tokio::time::timeout(timeout, pool.get()).await {
            Ok(Ok(conn)) => Ok(Lease(Some(conn))),
            Ok(Err(PoolError::Backend(e))) => Err(Error::backend(P::NAME, e)),
            Ok(Err(e)) => Err(Error::backend(P::NAME, e)),
            Err(_) => Err(Error::backend(
                P::NAME,
                format!(
                    "no database connection within {timeout:?}: all {} pooled connections \
                     are busy, or the server does not answer",
                    pool.status().max_size
                ),
            )),
        }
    }

    /// One exchange on a connection of its own: checks a connection out, runs `statement` on
    /// it and [releases](Lease::release) it according to the outcome. A database error is an
    /// [`Error::Backend`] naming the provider.
    pub async fn run<T>(
        pool: &Pool<P>,
        statement: impl AsyncFnOnce(&mut P::Connection) -> sqlx::Result<T>,
    ) -> Result<T> {
        let mut lease = Lease::acquire(pool).await?;
        let result = statement(lease.conn()?).await;
        lease
            .release(result)
            .map_err(|e| Error::backend(P::NAME, e))
    }

    /// The connection.
    pub fn conn(&mut self) -> Result<&mut P::Connection> {
        // `None` only once `release` or `drop` took it, after which `self` is gone.
        self.0
            .as_deref_mut()
            .ok_or_else(|| Error::backend(P::NAME, "the pooled connection was already released"))
    }

    /// Returns the connection to the pool when `result` shows the exchange ended cleanly: a
    /// success, or an error the server reported (the protocol is still in step), and closes
    /// it otherwise. Passes `result` through.
    ///
    /// Not for a result from inside a transaction that failed: drop the lease instead, so
    /// the rollback sqlx queues on the connection cannot keep locks until its next use.
    pub fn release<T>(
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

impl<P: SqlxProvider> Drop for Lease<P> {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            // Detached from the pool (which opens a new one when needed) and dropped, which
            // closes the socket: the server ends the session and rolls back anything open.
            drop(Object::take(conn));
        }
    }
}
