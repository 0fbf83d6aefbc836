//! The PostgreSQL config string: a libpq `key=value` list (as Macaron documented) or a
//! `postgres://` URL; [`session_sqlx::SqlConfig`] does the rest (shared keys, the URL form).

use std::borrow::Cow;
use std::str::FromStr;

use session_core::{Error, Result};
use session_sqlx::{ConfigSyntax, require_tls, unknown_key};
use sqlx::postgres::{PgConnectOptions, PgSslMode};

use crate::PostgresProvider;

/// Shown in `pg_stat_activity` unless the config sets `application_name`.
pub const DEFAULT_APPLICATION_NAME: &str = "session-postgres";

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

impl ConfigSyntax for PostgresProvider {
    const URL_SCHEMES: &'static [&'static str] = &["postgres://", "postgresql://"];

    const KEYS: &'static str = "table, pool_size (or max_connections), acquire_timeout; in the \
                                key=value form also host, port, dbname, user, password, \
                                sslmode, sslrootcert, application_name; in a postgres:// URL \
                                also the parameters sqlx knows: sslmode, sslrootcert, sslcert, \
                                sslkey, host, hostaddr, port, dbname, user, password, \
                                application_name, options, statement-cache-capacity";

    fn default_options() -> PgConnectOptions {
        PgConnectOptions::new()
    }

    fn pairs(config: &str) -> Result<Vec<(String, String)>> {
        libpq_pairs(config)
    }

    fn connection_key(
        connect: PgConnectOptions,
        key: &str,
        value: &str,
    ) -> Result<PgConnectOptions> {
        Ok(match key {
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
            _ => return Err(unknown_key::<Self>(key)),
        })
    }

    fn url_parameter<'v>(key: &str, value: Cow<'v, str>) -> Result<Cow<'v, str>> {
        match key {
            "sslmode" | "ssl-mode" => {
                ssl_mode(key, &value)?;
            }
            key if SQLX_URL_KEYS.contains(&key) => {}
            _ => return Err(unknown_key::<Self>(key)),
        }
        Ok(value)
    }

    fn finish(connect: PgConnectOptions) -> PgConnectOptions {
        if connect.get_application_name().is_some() {
            connect
        } else {
            connect.application_name(DEFAULT_APPLICATION_NAME)
        }
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
    require_tls::<PostgresProvider>(key, value, needs_tls, cfg!(feature = "tls"))?;
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
    use std::time::Duration;

    use session_sqlx::testing;

    use super::*;
    use crate::PostgresConfig;

    fn parse(s: &str) -> Result<PostgresConfig> {
        s.parse()
    }

    fn field_of(config: &str) -> String {
        testing::config_field::<PostgresProvider>(config)
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
        assert_eq!(field_of("user='open"), "user");
        assert_eq!(field_of("user"), "user");
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
    fn defaults_and_hidden_password() {
        testing::defaults_and_hidden_password::<PostgresProvider>("user=a password=hunter2");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        testing::refused_naming::<PostgresProvider>(&[
            ("user=a colour=blue", "colour"),
            ("postgres://u@h/db?sslmode=disable&fancy=1", "fancy"),
            ("port=http", "port"),
            ("pool_size=0", "pool_size"),
            ("max_connections=-1", "max_connections"),
            ("acquire_timeout=0", "acquire_timeout"),
            ("acquire_timeout=soon", "acquire_timeout"),
            ("sslmode=sometimes", "sslmode"),
            ("table='x; DROP TABLE y'", "table"),
            ("postgres://u@h/db?table=x%3B%20DROP%20TABLE%20y", "table"),
            ("postgres://u@h:99999/db", "url"),
        ]);
    }

    #[cfg(not(feature = "tls"))]
    #[test]
    fn tls_without_the_feature_is_a_clear_config_error() {
        testing::tls_needs_the_feature::<PostgresProvider>(
            &[
                ("sslmode=require", "sslmode"),
                ("sslmode=verify-ca", "sslmode"),
                ("sslmode=verify-full", "sslmode"),
            ],
            &["sslmode=disable", "sslmode=allow", "sslmode=prefer"],
        );
    }
}
