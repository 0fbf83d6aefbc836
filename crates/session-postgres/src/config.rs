//! The provider config string: a libpq `key=value` list (as Macaron documented) or a
//! `postgres://` URL. A `key=value` list is split here and applied key by key; a URL goes to
//! sqlx's own parser once the provider's keys are taken out of it and the rest are checked.
//! Either way an unknown key is an error that names it.

use std::str::FromStr;
use std::time::Duration;

use session_core::{Error, Result};
use sqlx::postgres::{PgConnectOptions, PgSslMode};
use url::{Host, Url};

use crate::table::TableName;

pub use session_sqlx::{DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_POOL_SIZE};

/// Shown in `pg_stat_activity` unless the config sets `application_name`.
pub const DEFAULT_APPLICATION_NAME: &str = "session-postgres";

const KEYS: &str = "table, pool_size (or max_connections), acquire_timeout; in the key=value \
                    form also host, port, dbname, user, password, sslmode, sslrootcert, \
                    application_name; in a postgres:// URL also the parameters sqlx knows: \
                    sslmode, sslrootcert, sslcert, sslkey, host, hostaddr, port, dbname, user, \
                    password, application_name, options, statement-cache-capacity";

/// A parsed config string.
#[derive(Clone)]
pub struct PgConfig {
    /// Where and how to connect.
    pub connect: PgConnectOptions,
    /// The session table.
    pub table: TableName,
    /// Maximum number of pooled connections.
    pub pool_size: u32,
    /// Bound on waiting for a pooled connection (and so on connecting to a dead server).
    pub acquire_timeout: Duration,
}

impl std::fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not derived: `PgConnectOptions`'s own `Debug` prints the password.
        f.debug_struct("PgConfig")
            .field("host", &self.connect.get_host())
            .field("port", &self.connect.get_port())
            .field("database", &self.connect.get_database())
            .field("user", &self.connect.get_username())
            .field("table", &self.table)
            .field("pool_size", &self.pool_size)
            .field("acquire_timeout", &self.acquire_timeout)
            .finish_non_exhaustive()
    }
}

impl FromStr for PgConfig {
    type Err = Error;

    fn from_str(config: &str) -> Result<Self> {
        let config = config.trim();
        if config.starts_with("postgres://") || config.starts_with("postgresql://") {
            return from_url(config);
        }
        let mut parsed = PgConfig::with(PgConnectOptions::new());
        for (key, value) in libpq_pairs(config)? {
            if !parsed.provider_key(&key, &value)? {
                parsed.connection_key(&key, &value)?;
            }
        }
        Ok(parsed)
    }
}

/// The URL form: the provider's own keys are taken out of the query, the other keys are
/// checked (sqlx ignores parameters it does not know, which would hide a typo) and the URL
/// goes to sqlx's own parser.
fn from_url(config: &str) -> Result<PgConfig> {
    let mut url = Url::parse(config)
        .map_err(|e| Error::config("url", format!("not a valid postgres URL: {e}")))?;
    let mut parsed = PgConfig::with(PgConnectOptions::new());
    let mut forwarded = Vec::new();
    for (key, value) in url.query_pairs() {
        if parsed.provider_key(&key, &value)? {
            continue;
        }
        match &*key {
            "sslmode" | "ssl-mode" => {
                ssl_mode(&key, &value)?;
            }
            key if SQLX_URL_KEYS.contains(&key) => {}
            _ => return Err(unknown(&key)),
        }
        forwarded.push((key.into_owned(), value.into_owned()));
    }
    url.set_query(None);
    if !forwarded.is_empty() {
        url.query_pairs_mut().extend_pairs(forwarded);
    }
    let mut connect = PgConnectOptions::from_str(url.as_str())
        .map_err(|e| Error::config("url", format!("not a valid postgres URL: {e}")))?;
    // sqlx keeps the brackets of an IPv6 literal, which then fails to resolve.
    if let Some(Host::Ipv6(addr)) = url.host() {
        connect = connect.host(&addr.to_string());
    }
    Ok(PgConfig {
        connect: default_application_name(connect),
        ..parsed
    })
}

/// Query parameters sqlx 0.9 understands in a `postgres://` URL.
const SQLX_URL_KEYS: &[&str] = &[
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
    "statement-cache-capacity",
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "application_name",
    "options",
];

fn unknown(key: &str) -> Error {
    Error::config(
        key,
        format!("unknown postgres provider option (accepted: {KEYS})"),
    )
}

fn default_application_name(connect: PgConnectOptions) -> PgConnectOptions {
    if connect.get_application_name().is_some() {
        connect
    } else {
        connect.application_name(DEFAULT_APPLICATION_NAME)
    }
}

impl PgConfig {
    fn with(connect: PgConnectOptions) -> Self {
        PgConfig {
            connect: default_application_name(connect),
            table: TableName::default(),
            pool_size: DEFAULT_POOL_SIZE,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
        }
    }

    /// Applies one of the provider's own keys; false when `key` is not one of them.
    fn provider_key(&mut self, key: &str, value: &str) -> Result<bool> {
        if key == "table" {
            self.table = TableName::parse(value)?;
            return Ok(true);
        }
        session_sqlx::pool_key(key, value, &mut self.pool_size, &mut self.acquire_timeout)
    }

    /// Applies a libpq connection key.
    fn connection_key(&mut self, key: &str, value: &str) -> Result<()> {
        let connect = std::mem::take(&mut self.connect);
        self.connect = match key {
            // libpq reads a host starting with `/` as a Unix-socket directory.
            "host" if value.starts_with('/') => connect.socket(value),
            "host" => connect.host(value),
            "port" => connect.port(value.parse().map_err(|_| {
                Error::config("port", format!("expected a port number, got {value:?}"))
            })?),
            "dbname" => connect.database(value),
            "user" => connect.username(value),
            "password" => connect.password(value),
            "sslmode" => connect.ssl_mode(ssl_mode(key, value)?),
            "sslrootcert" => connect.ssl_root_cert(value),
            "application_name" => connect.application_name(value),
            _ => return Err(unknown(key)),
        };
        Ok(())
    }
}

fn ssl_mode(key: &str, value: &str) -> Result<PgSslMode> {
    let mode = PgSslMode::from_str(value).map_err(|_| {
        Error::config(
            key,
            format!(
                "expected disable, allow, prefer, require, verify-ca or verify-full, got {value:?}"
            ),
        )
    })?;
    let needs_tls = matches!(
        mode,
        PgSslMode::Require | PgSslMode::VerifyCa | PgSslMode::VerifyFull
    );
    if needs_tls && !cfg!(feature = "tls") {
        return Err(Error::config(
            key,
            format!(
                "{key}={value} needs TLS, but session-postgres was built without it: enable \
                 its `tls` feature"
            ),
        ));
    }
    Ok(mode)
}

/// Splits a libpq connection string: `key=value` pairs separated by whitespace, spaces
/// allowed around `=`, values optionally single-quoted, `\` escaping the next character.
fn libpq_pairs(config: &str) -> Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut chars = config.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(Error::config(
                key,
                "expected key=value (libpq style, separated by spaces) or a postgres:// URL",
            ));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let quoted = chars.next_if_eq(&'\'').is_some();
        let mut value = String::new();
        let mut closed = !quoted;
        while let Some(c) = chars.next() {
            match c {
                '\\' => value.extend(chars.next()),
                '\'' if quoted => {
                    closed = true;
                    break;
                }
                c if c.is_whitespace() && !quoted => break,
                c => value.push(c),
            }
        }
        if !closed {
            return Err(Error::config(key, "unterminated quoted value"));
        }
        pairs.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::DEFAULT_TABLE;

    fn parse(s: &str) -> Result<PgConfig> {
        s.parse()
    }

    fn field_of(result: Result<PgConfig>) -> String {
        match result {
            Err(Error::Config { field, .. }) => field,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn macaron_key_value_form() {
        let c = parse(
            "user=a password=b host=db.example port=6543 dbname=c sslmode=disable table=app.sess \
             pool_size=3 acquire_timeout=1.5",
        )
        .unwrap();
        assert_eq!(c.connect.get_username(), "a");
        assert_eq!(c.connect.get_host(), "db.example");
        assert_eq!(c.connect.get_port(), 6543);
        assert_eq!(c.connect.get_database(), Some("c"));
        assert!(matches!(c.connect.get_ssl_mode(), PgSslMode::Disable));
        assert_eq!(c.table.quoted(), "\"app\".\"sess\"");
        assert_eq!(c.pool_size, 3);
        assert_eq!(c.acquire_timeout, Duration::from_millis(1500));
        assert_eq!(
            c.connect.get_application_name(),
            Some(DEFAULT_APPLICATION_NAME)
        );
    }

    #[test]
    fn quoted_values_and_spaces_around_equals() {
        let c = parse(r"user = 'a b' password='it\'s' dbname=x\ y max_connections=2").unwrap();
        assert_eq!(c.connect.get_username(), "a b");
        assert_eq!(c.connect.get_database(), Some("x y"));
        assert_eq!(c.pool_size, 2);
        assert_eq!(field_of(parse("user='open")), "user");
        assert_eq!(field_of(parse("user")), "user");
    }

    #[test]
    fn socket_directory_host() {
        let c = parse("host=/var/run/postgresql dbname=x").unwrap();
        assert!(c.connect.get_socket().is_some());
    }

    #[test]
    fn url_form() {
        let c = parse(
            "postgres://us%40er:p%3Ass@127.0.0.1:5433/te%20st?sslmode=disable&table=s1&pool_size=4&application_name=me",
        )
        .unwrap();
        assert_eq!(c.connect.get_username(), "us@er");
        assert_eq!(c.connect.get_host(), "127.0.0.1");
        assert_eq!(c.connect.get_port(), 5433);
        assert_eq!(c.connect.get_database(), Some("te st"));
        assert_eq!(c.table.name(), "s1");
        assert_eq!(c.pool_size, 4);
        assert_eq!(c.connect.get_application_name(), Some("me"));
        let c =
            parse("postgresql://[::1]/x?sslcert=/c.pem&options=-c%20search_path%3Dapp").unwrap();
        assert_eq!(c.connect.get_options(), Some("-c search_path=app"));
        assert_eq!(c.connect.get_host(), "::1");
    }

    #[test]
    fn defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.table.name(), DEFAULT_TABLE);
        assert_eq!(c.pool_size, DEFAULT_POOL_SIZE);
        assert_eq!(c.acquire_timeout, DEFAULT_ACQUIRE_TIMEOUT);
    }

    #[test]
    fn unknown_keys_are_named() {
        assert_eq!(field_of(parse("user=a colour=blue")), "colour");
        assert_eq!(
            field_of(parse("postgres://u@h/db?sslmode=disable&fancy=1")),
            "fancy"
        );
    }

    #[test]
    fn bad_values_are_named() {
        assert_eq!(field_of(parse("port=http")), "port");
        assert_eq!(field_of(parse("pool_size=0")), "pool_size");
        assert_eq!(field_of(parse("max_connections=-1")), "max_connections");
        assert_eq!(field_of(parse("acquire_timeout=0")), "acquire_timeout");
        assert_eq!(field_of(parse("acquire_timeout=soon")), "acquire_timeout");
        assert_eq!(field_of(parse("sslmode=sometimes")), "sslmode");
        assert_eq!(field_of(parse("table='x; DROP TABLE y'")), "table");
        assert_eq!(
            field_of(parse("postgres://u@h/db?table=x%3B%20DROP%20TABLE%20y")),
            "table"
        );
        assert_eq!(field_of(parse("postgres://u@h:99999/db")), "url");
    }

    #[cfg(not(feature = "tls"))]
    #[test]
    fn tls_without_the_feature_is_a_clear_config_error() {
        for mode in ["require", "verify-ca", "verify-full"] {
            match parse(&format!("sslmode={mode}")) {
                Err(Error::Config { field, message }) => {
                    assert_eq!(field, "sslmode");
                    assert!(message.contains("`tls` feature"), "{message}");
                }
                other => panic!("{mode} accepted: {other:?}"),
            }
        }
        for mode in ["disable", "allow", "prefer"] {
            assert!(parse(&format!("sslmode={mode}")).is_ok());
        }
    }
}
