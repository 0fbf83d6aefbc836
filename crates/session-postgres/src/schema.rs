//! The session table's schema: the statements the provider runs at start-up, also offered to
//! teams that run their own migrations.

use session_core::Result;
use session_sqlx::Dialect;

use crate::{PostgresProvider, TableName};

const MAX_IDENT: usize = <PostgresProvider as Dialect>::MAX_IDENT;

/// The name of one of the table's indexes, quoted. Index names share the schema's namespace,
/// so they derive from the table name; when `<table>_<suffix>` would exceed 63 bytes
/// (PostgreSQL would silently truncate it, and two long table names could then share an index
/// name), the table part is shortened and a hash of the full name added.
fn index_name(table: &TableName, suffix: &str) -> String {
    let name = table.name();
    let plain = format!("{name}_{suffix}");
    if plain.len() <= MAX_IDENT {
        return format!("\"{plain}\"");
    }
    let hash = format!("{:08x}", fnv1a(name.as_bytes()));
    let keep = MAX_IDENT - suffix.len() - hash.len() - 2;
    // Identifiers are ASCII (checked when parsed), so any byte index is a char boundary.
    format!("\"{}_{hash}_{suffix}\"", &name[..keep])
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
    let expiry_index = index_name(table, "expires_at_idx");
    let owner_index = index_name(table, "owner_idx");
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
    fn names_are_double_quoted() {
        let t = TableName::parse("sessions").unwrap();
        assert_eq!(t.quoted(), "\"sessions\"");
        let t = TableName::parse("App_1.Sess").unwrap();
        assert_eq!(t.quoted(), "\"App_1\".\"Sess\"");
        assert_eq!((t.qualifier(), t.name()), (Some("App_1"), "Sess"));
        assert!(TableName::parse(&"a".repeat(63)).is_ok());
        assert!(TableName::parse(&"a".repeat(64)).is_err());
    }

    #[test]
    fn long_index_names_stay_within_the_limit_and_distinct() {
        let a = TableName::parse(&format!("{}a", "x".repeat(62))).unwrap();
        let b = TableName::parse(&format!("{}b", "x".repeat(62))).unwrap();
        let (ia, ib) = (index_name(&a, "owner_idx"), index_name(&b, "owner_idx"));
        assert!(ia.len() <= MAX_IDENT + 2, "{ia}");
        assert_ne!(ia, ib);
        let short = TableName::parse("s").unwrap();
        assert_eq!(index_name(&short, "owner_idx"), "\"s_owner_idx\"");
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
