//! The session table's schema: the statements the provider runs at start-up, also offered to
//! teams that run their own migrations.

use session_core::Result;
use session_sqlx::Dialect;

use crate::{PostgresProvider, TableName};

const MAX_IDENT: usize = <PostgresProvider as Dialect>::MAX_IDENT;

/// The suffix of the expiry index the previous layout had (`<table>_expires_at_idx`), which
/// an upgrade drops.
pub(crate) const OLD_EXPIRY_INDEX: &str = "expires_at_idx";

/// The name of one of the table's indexes, unquoted. Index names share the schema's
/// namespace, so they derive from the table name; when `<table>_<suffix>` would exceed 63
/// bytes (PostgreSQL would silently truncate it, and two long table names could then share an
/// index name), the table part is shortened and a hash of the full name added.
pub(crate) fn index_name(table: &TableName, suffix: &str) -> String {
    let name = table.name();
    let plain = format!("{name}_{suffix}");
    if plain.len() <= MAX_IDENT {
        return plain;
    }
    let hash = format!("{:08x}", fnv1a(name.as_bytes()));
    let keep = MAX_IDENT - suffix.len() - hash.len() - 2;
    // Identifiers are ASCII (checked when parsed), so any byte index is a char boundary.
    format!("{}_{hash}_{suffix}", &name[..keep])
}

/// [`index_name`], double-quoted.
fn quoted_index(table: &TableName, suffix: &str) -> String {
    format!("\"{}\"", index_name(table, suffix))
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
    let gc_index = quoted_index(table, "gc_after_idx");
    let owner_index = quoted_index(table, "owner_idx");
    // `gc_after` comes last, where the upgrade of an older table adds it, so both layouts
    // have the same column order. Its default only serves writers of the previous layout
    // during a rolling upgrade (their inserts name no `gc_after`): a mark of 0 is below any
    // expiry, as a mark must be, so GC still finds the row and deletes it once `expires_at`
    // passed.
    format!(
        "CREATE TABLE IF NOT EXISTS {t} (\n    \
             id         VARCHAR(128) PRIMARY KEY,\n    \
             data       BYTEA        NOT NULL,\n    \
             expires_at BIGINT       NOT NULL,\n    \
             version    BIGINT       NOT NULL,\n    \
             owner      TEXT,\n    \
             gc_after   BIGINT       NOT NULL DEFAULT 0\n\
         );\n\
         CREATE INDEX IF NOT EXISTS {gc_index} ON {t} (gc_after);\n\
         CREATE INDEX IF NOT EXISTS {owner_index} ON {t} (owner) WHERE owner IS NOT NULL;\n"
    )
}

/// The statements that bring a table of the previous layout (no `gc_after`, GC through an
/// index on `expires_at`) to this one, before [`schema_for`] creates the new index: add the
/// column when `add_column`, drop the provider's old expiry index when `drop_old_index` (an
/// index on a column every save writes would make every save write its indexes again).
/// `None` when there is nothing to do.
///
/// Adding a column with a constant default rewrites no rows (PostgreSQL 11 and later). The
/// rows already there get mark 0, which is correct as it is: a mark only has to be at most
/// the expiry for GC to find the row (it deletes on `expires_at`), and the row's next save
/// sets a closer one.
pub(crate) fn upgrade_for(
    table: &TableName,
    add_column: bool,
    drop_old_index: bool,
) -> Option<String> {
    let mut upgrade = String::new();
    if add_column {
        upgrade.push_str(&format!(
            "ALTER TABLE {} ADD COLUMN IF NOT EXISTS gc_after BIGINT NOT NULL DEFAULT 0;\n",
            table.quoted()
        ));
    }
    if drop_old_index {
        // An index lives in its table's schema.
        let schema = table
            .qualifier()
            .map_or_else(String::new, |q| format!("\"{q}\"."));
        upgrade.push_str(&format!(
            "DROP INDEX IF EXISTS {schema}{};\n",
            quoted_index(table, OLD_EXPIRY_INDEX)
        ));
    }
    (!upgrade.is_empty()).then_some(upgrade)
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
        assert!(ia.len() <= MAX_IDENT, "{ia}");
        assert_ne!(ia, ib);
        let short = TableName::parse("s").unwrap();
        assert_eq!(quoted_index(&short, "owner_idx"), "\"s_owner_idx\"");
    }

    #[test]
    fn schema_has_the_documented_shape() {
        let sql = schema_sql("sessions").unwrap();
        for part in [
            "VARCHAR(128) PRIMARY KEY",
            "BYTEA",
            "expires_at BIGINT",
            "version    BIGINT",
            "gc_after   BIGINT       NOT NULL DEFAULT 0",
            "\"sessions_gc_after_idx\" ON \"sessions\" (gc_after)",
            "\"sessions_owner_idx\" ON \"sessions\" (owner)",
        ] {
            assert!(sql.contains(part), "{part} missing from\n{sql}");
        }
        assert!(
            !sql.contains("(expires_at)"),
            "expires_at is not indexed:\n{sql}"
        );
        assert!(schema_sql("x; DROP TABLE y").is_err());
    }

    #[test]
    fn the_upgrade_drops_the_old_index_in_the_tables_schema() {
        let t = TableName::parse("app.sessions").unwrap();
        assert_eq!(upgrade_for(&t, false, false), None);
        let upgrade = upgrade_for(&t, true, true).unwrap();
        assert!(upgrade.contains(
            "ALTER TABLE \"app\".\"sessions\" ADD COLUMN IF NOT EXISTS gc_after BIGINT NOT NULL DEFAULT 0"
        ));
        assert!(upgrade.contains("DROP INDEX IF EXISTS \"app\".\"sessions_expires_at_idx\""));
        let plain = TableName::parse("sessions").unwrap();
        assert_eq!(
            upgrade_for(&plain, false, true).unwrap(),
            "DROP INDEX IF EXISTS \"sessions_expires_at_idx\";\n"
        );
    }
}
