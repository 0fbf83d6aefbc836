//! The pool against the machine's PostgreSQL: which connections go back to the pool, which
//! are closed, and what a request that cannot get one sees.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::time::Duration;

use session_core::Error;
use session_sqlx::{ConnectOptionsOf, ConnectionManager, Endpoint, Lease, Pool, SqlxProvider};
use sqlx::postgres::{PgConnectOptions, PgConnection};

const URL: &str = "postgres://postgres@127.0.0.1:5432/test";

struct Postgres;

impl SqlxProvider for Postgres {
    const NAME: &'static str = "postgres";
    type Connection = PgConnection;

    fn endpoint(options: &ConnectOptionsOf<Self>) -> Endpoint<'_> {
        Endpoint {
            host: options.get_host(),
            port: options.get_port(),
            database: options.get_database(),
            user: options.get_username(),
        }
    }
}

fn pool(size: u32, acquire_timeout: Duration) -> Pool<Postgres> {
    let options: PgConnectOptions = URL.parse().unwrap();
    ConnectionManager::<Postgres>::new(options, acquire_timeout)
        .into_pool(size)
        .unwrap()
}

/// A lease on a live connection, failing the test with a clear message when the server is
/// not reachable.
async fn lease(pool: &Pool<Postgres>) -> Lease<Postgres> {
    Lease::acquire(pool)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {URL} is not reachable: {e}"))
}

async fn select_one(lease: &mut Lease<Postgres>) -> sqlx::Result<(i32,)> {
    sqlx::query_as("SELECT 1")
        .fetch_one(lease.conn().unwrap())
        .await
}

/// The server-side process ID of the pool's connection, through a lease that is released.
async fn backend_pid(pool: &Pool<Postgres>) -> i32 {
    let mut lease = lease(pool).await;
    let result = sqlx::query_as("SELECT pg_backend_pid()")
        .fetch_one(lease.conn().unwrap())
        .await;
    let (pid,): (i32,) = lease.release(result).unwrap();
    pid
}

#[tokio::test]
async fn a_released_connection_is_reused() {
    let pool = pool(1, Duration::from_secs(5));
    let first = backend_pid(&pool).await;
    assert_eq!(backend_pid(&pool).await, first);
    assert_eq!(pool.status().size, 1);
}

#[tokio::test]
async fn a_server_error_keeps_the_connection() {
    let pool = pool(1, Duration::from_secs(5));
    let first = backend_pid(&pool).await;
    let mut lease = lease(&pool).await;
    let result = sqlx::query("SELECT * FROM no_such_table_here")
        .execute(lease.conn().unwrap())
        .await;
    let released = lease.release(result);
    assert!(
        matches!(released, Err(sqlx::Error::Database(_))),
        "{released:?}"
    );
    assert_eq!(backend_pid(&pool).await, first);
}

/// Checks that what `end` does with the pool's one connection, leased and used, takes the
/// connection out of the pool, so the next request gets a new one.
async fn closes_the_connection(end: impl FnOnce(Lease<Postgres>)) {
    let pool = pool(1, Duration::from_secs(5));
    let first = backend_pid(&pool).await;
    let mut lease = lease(&pool).await;
    select_one(&mut lease).await.unwrap();
    end(lease);
    assert_eq!(pool.status().size, 0, "the connection left the pool");
    let next = backend_pid(&pool).await;
    assert_ne!(next, first, "a new connection was opened");
}

#[tokio::test]
async fn a_lease_dropped_without_release_closes_its_connection() {
    // As when a request future is cancelled mid-statement.
    closes_the_connection(drop).await;
}

#[tokio::test]
async fn a_client_side_error_closes_the_connection() {
    closes_the_connection(|lease| {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert!(lease.release::<()>(Err(sqlx::Error::Io(io))).is_err());
    })
    .await;
}

#[tokio::test]
async fn an_exhausted_pool_fails_with_a_backend_error_naming_the_provider() {
    let pool = pool(1, Duration::from_millis(200));
    let held = lease(&pool).await;
    let err = Lease::acquire(&pool).await.unwrap_err();
    assert!(matches!(err, Error::Backend { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("`postgres`"), "{message}");
    assert!(message.contains("all 1 pooled connections"), "{message}");
    drop(held);
    // The pool works again once the connection is back.
    let mut lease = lease(&pool).await;
    assert_eq!(select_one(&mut lease).await.unwrap(), (1,));
}

#[tokio::test]
async fn an_unreachable_server_is_a_backend_error() {
    // Port 1 on the loopback interface: nothing listens there, so the connection is refused.
    let options: PgConnectOptions = "postgres://postgres@127.0.0.1:1/test".parse().unwrap();
    let pool = ConnectionManager::<Postgres>::new(options, Duration::from_secs(5))
        .into_pool(1)
        .unwrap();
    let err = Lease::acquire(&pool).await.unwrap_err();
    assert!(err.is_backend(), "{err:?}");
    assert!(err.to_string().contains("`postgres`"), "{err}");
}

#[test]
fn debug_output_hides_the_password() {
    let options: PgConnectOptions = "postgres://u:hunter2@db.example:5433/test".parse().unwrap();
    let manager = ConnectionManager::<Postgres>::new(options, Duration::from_secs(3));
    let debug = format!("{manager:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(
        debug.contains("db.example") && debug.contains("5433"),
        "{debug}"
    );
    assert_eq!(manager.acquire_timeout(), Duration::from_secs(3));
}
