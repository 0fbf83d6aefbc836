//! The session table: its validated name and the schema this provider expects.

use std::fmt;
use std::str::FromStr;

use session_core::config_string::SqlName;
use session_core::{Error, Result};

/// The table used when the config names none.
pub const DEFAULT_TABLE: &str = "sessions";

/// PostgreSQL truncates identifiers to 63 bytes (`NAMEDATALEN - 1`).
const MAX_IDENT: usize = 63;

/// A validated table name, optionally qualified by a schema (`schema.table`).
///
/// Each part must match `^[A-Za-z_][A-Za-z0-9_]{0,62}$`. Names are always double-quoted in
/// SQL, so a reserved word works as a name and the case is kept as written: create the table
/// with [`schema_sql`] (or the same quoting) when you run migrations yourself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName(SqlName);

impl TableName {
    /// Parses and validates `table` or `schema.table`.
    pub fn parse(value: &str) -> Result<Self> {
        SqlName::parse("table", value, MAX_IDENT).map(TableName)
    }

    /// The name as SQL: `"table"` or `"schema"."table"`.
    pub fn quoted(&self) -> String {
        match &self.0.qualifier {
            Some(schema) => format!("\"{schema}\".\"{}\"", self.0.name),
            None => format!("\"{}\"", self.0.name),
        }
    }

    /// The unqualified, unquoted table name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The schema, when the name is qualified.
    pub fn schema(&self) -> Option<&str> {
        self.0.qualifier.as_deref()
    }

    /// The name of one of the table's indexes, quoted. Index names share the schema's
    /// namespace, so they derive from the table name; when `<table>_<suffix>` would exceed 63
    /// bytes (PostgreSQL would silently truncate it, and two long table names could then
    /// share an index name), the table part is shortened and a hash of the full name added.
    pub(crate) fn index_name(&self, suffix: &str) -> String {
        let name = self.name();
        let plain = format!("{name}_{suffix}");
        if plain.len() <= MAX_IDENT {
            return format!("\"{plain}\"");
        }
        let hash = format!("{:08x}", fnv1a(name.as_bytes()));
        let keep = MAX_IDENT - suffix.len() - hash.len() - 2;
        // Identifiers are ASCII (checked in `parse`), so any byte index is a char boundary.
        format!("\"{}_{hash}_{suffix}\"", &name[..keep])
    }
}

impl Default for TableName {
    /// [`DEFAULT_TABLE`], unqualified.
    fn default() -> Self {
        TableName(SqlName {
            qualifier: None,
            name: DEFAULT_TABLE.to_owned(),
        })
    }
}

impl FromStr for TableName {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        TableName::parse(s)
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.quoted())
    }
}

/// 32-bit FNV-1a: a stable, dependency-free hash for index names (not for security).
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash, b| {
        (hash ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// The statements that create the session table and its indexes, for teams that run their
/// own migrations. The provider runs the same statements (all `IF NOT EXISTS`) when it starts.
///
/// ```
/// let sql = session_postgres::schema_sql("app.sessions")?;
/// assert!(sql.contains("CREATE TABLE IF NOT EXISTS \"app\".\"sessions\""));
/// # Ok::<(), session_core::Error>(())
/// ```
pub fn schema_sql(table: &str) -> Result<String> {
    Ok(schema_for(&TableName::parse(table)?))
}

pub(crate) fn schema_for(table: &TableName) -> String {
    let t = table.quoted();
    let expiry_index = table.index_name("expires_at_idx");
    let owner_index = table.index_name("owner_idx");
    format!(
        "CREATE TABLE IF NOT EXISTS {t} (\n    \
             id         VARCHAR(128) PRIMARY KEY,\n    \
             data       BYTEA        NOT NULL,\n    \
             expires_at BIGINT       NOT NULL,\n    \
             version    BIGINT       NOT NULL,\n    \
             owner      TEXT\n\
         );\n\
         CREATE INDEX IF NOT EXISTS {expiry_index} ON {t} (expires_at);\n\
         CREATE INDEX IF NOT EXISTS {owner_index} ON {t} (owner) WHERE owner IS NOT NULL;\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_are_quoted() {
        let t = TableName::parse("sessions").unwrap();
        assert_eq!(t.quoted(), "\"sessions\"");
        let t = TableName::parse("App_1.Sess").unwrap();
        assert_eq!(t.quoted(), "\"App_1\".\"Sess\"");
        assert_eq!(t.schema(), Some("App_1"));
        assert_eq!(t.name(), "Sess");
        assert!(TableName::parse(&"a".repeat(63)).is_ok());
    }

    #[test]
    fn invalid_names_are_config_errors_naming_table() {
        for bad in [
            "",
            "x; DROP TABLE y",
            "1abc",
            "a-b",
            "a.b.c",
            ".a",
            "a.",
            "sess\"ions",
            "séance",
            "a b",
            &"a".repeat(64),
        ] {
            match TableName::parse(bad) {
                Err(Error::Config { field, .. }) => assert_eq!(field, "table", "{bad:?}"),
                other => panic!("{bad:?} was accepted: {other:?}"),
            }
        }
    }

    #[test]
    fn long_index_names_stay_within_the_limit_and_distinct() {
        let a = TableName::parse(&format!("{}a", "x".repeat(62))).unwrap();
        let b = TableName::parse(&format!("{}b", "x".repeat(62))).unwrap();
        let (ia, ib) = (a.index_name("owner_idx"), b.index_name("owner_idx"));
        assert!(ia.len() <= MAX_IDENT + 2, "{ia}");
        assert_ne!(ia, ib);
        let short = TableName::parse("s").unwrap();
        assert_eq!(short.index_name("owner_idx"), "\"s_owner_idx\"");
    }

    #[test]
    fn schema_has_the_documented_shape() {
        let sql = schema_sql("sessions").unwrap();
        for part in [
            "VARCHAR(128) PRIMARY KEY",
            "BYTEA",
            "expires_at BIGINT",
            "version    BIGINT",
            "\"sessions_expires_at_idx\" ON \"sessions\" (expires_at)",
            "\"sessions_owner_idx\" ON \"sessions\" (owner)",
        ] {
            assert!(sql.contains(part), "{part} missing from\n{sql}");
        }
        assert!(schema_sql("x; DROP TABLE y").is_err());
    }
}
