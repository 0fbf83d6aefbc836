//! The connection pool: [`session_sqlx`]'s deadpool over sqlx connections, for PostgreSQL.

use session_sqlx::{ConnectOptionsOf, Endpoint, SqlxProvider};
use sqlx::postgres::PgConnection;

use crate::{NAME, PostgresProvider};

pub use session_sqlx::PING_IF_IDLE_FOR;

/// The connection pool of a [`PostgresStore`](crate::PostgresStore); build one with
/// [`ConnectionManager::into_pool`].
pub type Pool = session_sqlx::Pool<PostgresProvider>;

/// Opens and checks the pool's connections (a deadpool `Manager`): `new(options,
/// acquire_timeout)` with sqlx's [`PgConnectOptions`](sqlx::postgres::PgConnectOptions).
pub type ConnectionManager = session_sqlx::ConnectionManager<PostgresProvider>;

impl SqlxProvider for PostgresProvider {
    const NAME: &'static str = NAME;
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
