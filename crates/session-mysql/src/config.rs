//! The MySQL config string: a Go MySQL driver DSN (as Macaron documented) or a `mysql://`
//! URL; [`session_sqlx::SqlConfig`] does the rest (shared keys, the URL form).

use std::borrow::Cow;
use std::str::FromStr;

use percent_encoding::percent_decode_str;
use session_core::{Error, Result};
use session_sqlx::{ConfigSyntax, require_tls, unknown_key};
use sqlx::mysql::{MySqlConnectOptions, MySqlSslMode};

use crate::MySqlProvider;

/// Query parameters sqlx 0.9 understands in a `mysql://` URL (`ssl-mode` and `charset` are
/// checked separately).
const SQLX_URL_KEYS: &[&str] = &[
    "sslca",
    "ssl-ca",
    "collation",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
    "statement-cache-capacity",
    "socket",
    "timezone",
    "time-zone",
];

impl ConfigSyntax for MySqlProvider {
    const URL_SCHEMES: &'static [&'static str] = &["mysql://", "mariadb://"];

    const KEYS: &'static str = "table, pool_size (or max_connections), acquire_timeout; in a Go \
                                DSN also charset, collation, tls, ssl-mode, ssl-ca, socket, \
                                parseTime, loc; in a mysql:// URL also the parameters sqlx \
                                knows: ssl-mode, ssl-ca, ssl-cert, ssl-key, charset, collation, \
                                socket, timezone, statement-cache-capacity";

    fn default_options() -> MySqlConnectOptions {
        MySqlConnectOptions::new()
    }

    fn pairs(config: &str) -> Result<Vec<(String, String)>> {
        go_dsn_pairs(config)
    }

    fn connection_key(
        connect: MySqlConnectOptions,
        key: &str,
        value: &str,
    ) -> Result<MySqlConnectOptions> {
        Ok(match key {
            "user" => connect.username(value),
            // `root:@tcp(...)` means no password in the Go driver; sqlx would send an empty one,
            // which the server refuses for an account without a password.
            "password" if value.is_empty() => connect,
            "password" => connect.password(value),
            "host" => connect.host(value),
            "port" => connect.port(value.parse().map_err(|_| {
                Error::config("port", format!("expected a port number, got {value:?}"))
            })?),
            "socket" => connect.socket(value),
            "dbname" => connect.database(value),
            "charset" => connect.charset(&charset(value)),
            "collation" => connect.collation(value),
            "tls" => connect.ssl_mode(go_tls(value)?),
            "ssl-mode" | "ssl_mode" => connect.ssl_mode(ssl_mode(key, value)?),
            "ssl-ca" | "ssl_ca" => connect.ssl_ca(value),
            // Go's time parsing options: this provider stores no DATE/TIME columns (expiry is
            // BIGINT milliseconds), so DSNs copied from a Go application keep working.
            "parseTime" | "loc" => connect,
            _ => return Err(unknown_key::<Self>(key)),
        })
    }

    fn url_parameter<'v>(key: &str, value: Cow<'v, str>) -> Result<Cow<'v, str>> {
        Ok(match key {
            "sslmode" | "ssl-mode" => {
                ssl_mode(key, &value)?;
                value
            }
            "charset" => charset(&value).into(),
            key if SQLX_URL_KEYS.contains(&key) => value,
            _ => return Err(unknown_key::<Self>(key)),
        })
    }
}

/// The connection character set. Go DSNs often say `utf8` (MySQL's 3-byte `utf8mb3`), which
/// cannot carry every owner string the provider stores: it is widened to `utf8mb4`. Go allows
/// a comma-separated fallback list; the first entry is used.
fn charset(value: &str) -> String {
    let first = value.split(',').next().unwrap_or(value).trim();
    match first.to_ascii_lowercase().as_str() {
        "utf8" | "utf8mb3" => "utf8mb4".to_owned(),
        _ => first.to_owned(),
    }
}

fn require_tls_support(key: &str, value: &str, mode: MySqlSslMode) -> Result<MySqlSslMode> {
    let needs_tls = !matches!(mode, MySqlSslMode::Disabled | MySqlSslMode::Preferred);
    require_tls::<MySqlProvider>(key, value, needs_tls, cfg!(feature = "tls"))?;
    Ok(mode)
}

/// The Go driver's `tls` parameter.
fn go_tls(value: &str) -> Result<MySqlSslMode> {
    let mode = match value {
        "false" => MySqlSslMode::Disabled,
        "preferred" => MySqlSslMode::Preferred,
        "skip-verify" => MySqlSslMode::Required,
        "true" => MySqlSslMode::VerifyIdentity,
        _ => {
            return Err(Error::config(
                "tls",
                format!(
                    "expected true, false, skip-verify or preferred, got {value:?} (named TLS \
                     configs of the Go driver do not exist here: use ssl-mode and ssl-ca)"
                ),
            ));
        }
    };
    require_tls_support("tls", value, mode)
}

/// sqlx's `ssl-mode` parameter.
fn ssl_mode(key: &str, value: &str) -> Result<MySqlSslMode> {
    let mode = MySqlSslMode::from_str(value).map_err(|_| {
        Error::config(
            key,
            format!(
                "expected DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY, got \
                 {value:?}"
            ),
        )
    })?;
    require_tls_support(key, value, mode)
}

/// Splits a Go MySQL driver DSN: `[user[:password]@][net[(address)]]/dbname[?param=value&...]`,
/// where `net` is `tcp` or `unix`. As in the Go driver, the last `/` starts the database name
/// and the last `@` before it ends the credentials, so a password may contain `@` or `/`.
fn go_dsn_pairs(dsn: &str) -> Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    if dsn.is_empty() {
        return Ok(pairs);
    }
    let bad = |why: &str| {
        Error::config(
            "dsn",
            format!(
                "{why}: expected user:password@tcp(host:port)/dbname?param=value or a mysql:// URL"
            ),
        )
    };
    let slash = dsn.rfind('/').ok_or_else(|| bad("no `/dbname`"))?;
    let (head, tail) = (&dsn[..slash], &dsn[slash + 1..]);
    let (dbname, params) = tail.split_once('?').unwrap_or((tail, ""));
    let (credentials, address) = match head.rfind('@') {
        Some(at) => (Some(&head[..at]), &head[at + 1..]),
        None => (None, head),
    };
    if let Some(credentials) = credentials {
        let (user, password) = credentials
            .split_once(':')
            .map_or((credentials, None), |(u, p)| (u, Some(p)));
        pairs.push(("user".to_owned(), user.to_owned()));
        if let Some(password) = password {
            pairs.push(("password".to_owned(), password.to_owned()));
        }
    }
    let (net, addr) = match address.split_once('(') {
        Some((net, rest)) => (
            net,
            Some(
                rest.strip_suffix(')')
                    .ok_or_else(|| bad("unclosed `(` in the address"))?,
            ),
        ),
        None => (address, None),
    };
    match (net, addr) {
        ("" | "tcp", None) => {}
        ("tcp", Some(addr)) => pairs.extend(host_port(addr).map_err(|()| bad("bad address"))?),
        ("unix", Some(path)) => pairs.push(("socket".to_owned(), path.to_owned())),
        _ => return Err(bad(&format!("unsupported network {net:?}"))),
    }
    if !dbname.is_empty() {
        pairs.push(("dbname".to_owned(), dbname.to_owned()));
    }
    for param in params.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        let value = percent_decode_str(value)
            .decode_utf8()
            .map_err(|_| Error::config(key, "the value is not valid percent-encoded UTF-8"))?;
        pairs.push((key.to_owned(), value.into_owned()));
    }
    Ok(pairs)
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn host_port(addr: &str) -> std::result::Result<Vec<(String, String)>, ()> {
    let (host, port) = if let Some(rest) = addr.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or(())?;
        (host, after.strip_prefix(':'))
    } else {
        match addr.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (addr, None),
        }
    };
    let mut pairs = Vec::new();
    if !host.is_empty() {
        pairs.push(("host".to_owned(), host.to_owned()));
    }
    if let Some(port) = port {
        pairs.push(("port".to_owned(), port.to_owned()));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use session_sqlx::testing;

    use super::*;
    use crate::MySqlConfig;

    fn parse(s: &str) -> Result<MySqlConfig> {
        s.parse()
    }

    #[test]
    fn macaron_go_dsn_form() {
        let c = parse("root:s3cr@t/x@tcp(db.example:3307)/macaron?charset=utf8&table=app.sess&pool_size=3&acquire_timeout=0.5&parseTime=true").unwrap();
        assert_eq!(c.connect.get_username(), "root");
        assert_eq!(c.connect.get_host(), "db.example");
        assert_eq!(c.connect.get_port(), 3307);
        assert_eq!(c.connect.get_database(), Some("macaron"));
        assert_eq!(c.connect.get_charset(), "utf8mb4");
        assert_eq!(c.table.quoted(), "`app`.`sess`");
        assert_eq!(c.pool_size, 3);
        assert_eq!(c.acquire_timeout, Duration::from_millis(500));
    }

    #[test]
    fn go_dsn_variants() {
        let c = parse("root:@tcp(localhost:3306)/macaron").unwrap();
        assert_eq!(c.connect.get_host(), "localhost");
        let c = parse("u@tcp([::1]:3308)/db?max_connections=2").unwrap();
        assert_eq!((c.connect.get_host(), c.connect.get_port()), ("::1", 3308));
        assert_eq!(c.pool_size, 2);
        let c = parse("u:p@unix(/run/mysqld/mysqld.sock)/db").unwrap();
        assert!(c.connect.get_socket().is_some());
        let c = parse("/db").unwrap();
        assert_eq!(c.connect.get_database(), Some("db"));
        let c = parse("u:p@/db?table=t%5F1").unwrap();
        assert_eq!(c.table.name(), "t_1");
        assert_eq!(
            c.table.name(),
            parse("u@tcp/db?table=t_1").unwrap().table.name()
        );
    }

    #[test]
    fn url_form() {
        let c = parse(
            "mysql://us%40er:p%3Ass@127.0.0.1:3307/te%20st?ssl-mode=disabled&table=s1&pool_size=4",
        )
        .unwrap();
        assert_eq!(c.connect.get_username(), "us@er");
        assert_eq!(c.connect.get_host(), "127.0.0.1");
        assert_eq!(c.connect.get_port(), 3307);
        assert_eq!(c.connect.get_database(), Some("te st"));
        assert!(matches!(c.connect.get_ssl_mode(), MySqlSslMode::Disabled));
        assert_eq!((c.table.name(), c.pool_size), ("s1", 4));
        let c = parse("mysql://u@[::1]:3308/db?ssl-cert=/c.pem&timezone=UTC&charset=utf8").unwrap();
        assert_eq!((c.connect.get_host(), c.connect.get_port()), ("::1", 3308));
        assert_eq!(c.connect.get_charset(), "utf8mb4");
        testing::refused_naming::<MySqlProvider>(&[("mysql://u@h/db?parseTime=true", "parseTime")]);
    }

    #[test]
    fn defaults_and_hidden_password() {
        testing::defaults_and_hidden_password::<MySqlProvider>("u:hunter2@tcp(h:1)/db");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        testing::refused_naming::<MySqlProvider>(&[
            ("u@tcp(h:1)/db?colour=blue", "colour"),
            ("mysql://u@h/db?fancy=1", "fancy"),
            ("u@tcp(h:port)/db", "port"),
            ("u@tcp(h:1/db", "dsn"),
            ("u@pipe(x)/db", "dsn"),
            ("no-slash", "dsn"),
            ("/db?pool_size=0", "pool_size"),
            ("/db?acquire_timeout=-1", "acquire_timeout"),
            ("/db?tls=custom", "tls"),
            ("mysql://h/db?ssl-mode=sometimes", "ssl-mode"),
            ("/db?table=x;%20DROP%20TABLE%20y", "table"),
            ("mysql://h/db?table=x%3B%20DROP%20TABLE%20y", "table"),
            ("mysql://h:99999/db", "url"),
        ]);
    }

    #[cfg(not(feature = "tls"))]
    #[test]
    fn tls_without_the_feature_is_a_clear_config_error() {
        testing::tls_needs_the_feature::<MySqlProvider>(
            &[
                ("/db?tls=true", "tls"),
                ("/db?tls=skip-verify", "tls"),
                ("/db?ssl-mode=REQUIRED", "ssl-mode"),
                ("/db?ssl-mode=VERIFY_IDENTITY", "ssl-mode"),
            ],
            &["/db?tls=false", "/db?ssl-mode=PREFERRED"],
        );
    }
}
