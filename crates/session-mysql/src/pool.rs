//! The connection pool: [`session_sqlx`]'s deadpool over sqlx connections, for MySQL and MariaDB.

use session_sqlx::{ConnectOptionsOf, SqlxProvider};
use sqlx::mysql::MySqlConnection;

use crate::{MySqlProvider, NAME};

pub use session_sqlx::PING_IF_IDLE_FOR;

/// The connection pool of a [`MySqlStore`](crate::MySqlStore); build one with
/// [`ConnectionManager::into_pool`].
pub type Pool = session_sqlx::Pool<MySqlProvider>;

/// Opens and checks the pool's connections (a deadpool `Manager`): `new(options,
/// acquire_timeout)` with sqlx's [`MySqlConnectOptions`](sqlx::mysql::MySqlConnectOptions).
pub type ConnectionManager = session_sqlx::ConnectionManager<MySqlProvider>;

/// A connection checked out for one operation (see [`session_sqlx::Lease`]).
pub(crate) type Lease = session_sqlx::Lease<MySqlProvider>;

impl SqlxProvider for MySqlProvider {
    const NAME: &'static str = NAME;
    type Connection = MySqlConnection;

    fn endpoint(options: &ConnectOptionsOf<Self>) -> (&str, u16) {
        (options.get_host(), options.get_port())
    }
}
