//! The connection pool: [`session_sqlx`]'s deadpool over sqlx connections, for MySQL and MariaDB.

use session_sqlx::{ConnectOptionsOf, Endpoint, SqlxProvider};
use sqlx::mysql::MySqlConnection;

use crate::{MySqlProvider, NAME};

pub use session_sqlx::PING_IF_IDLE_FOR;

/// The connection pool of a [`MySqlStore`](crate::MySqlStore); build one with
/// [`ConnectionManager::into_pool`].
pub type Pool = session_sqlx::Pool<MySqlProvider>;

/// Opens and checks the pool's connections (a deadpool `Manager`): `new(options,
/// acquire_timeout)` with sqlx's [`MySqlConnectOptions`](sqlx::mysql::MySqlConnectOptions).
pub type ConnectionManager = session_sqlx::ConnectionManager<MySqlProvider>;

impl SqlxProvider for MySqlProvider {
    const NAME: &'static str = NAME;
    type Connection = MySqlConnection;

    fn endpoint(options: &ConnectOptionsOf<Self>) -> Endpoint<'_> {
        Endpoint {
            host: options.get_host(),
            port: options.get_port(),
            database: options.get_database(),
            user: options.get_username(),
        }
    }
}
