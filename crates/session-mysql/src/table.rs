//! The session table: its validated name and the schema this provider expects.

use std::fmt;
use std::str::FromStr;

use session_core::config_string::SqlName;
use session_core::{Error, Result};

/// The table used when the config names none.
pub const DEFAULT_TABLE: &str = "sessions";

/// Longest MySQL/MariaDB identifier, in characters.
const MAX_IDENT: usize = 64;

/// Longest owner string the `owner` column holds, in characters.
pub const MAX_OWNER_CHARS: usize = 255;

/// A validated table name, optionally qualified by a database (`database.table`).
///
/// Each part is a letter or `_` followed by letters, digits or `_`, at most 64 characters.
/// Names are always backtick-quoted in SQL, so reserved words work as names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName(SqlName);

impl TableName {
    /// Parses and validates `table` or `database.table`.
    pub fn parse(value: &str) -> Result<Self> {
        SqlName::parse("table", value, MAX_IDENT).map(TableName)
    }

    /// The name as SQL: `` `table` `` or `` `database`.`table` ``.
    pub fn quoted(&self) -> String {
        match &self.0.qualifier {
            Some(database) => format!("`{database}`.`{}`", self.0.name),
            None => format!("`{}`", self.0.name),
        }
    }

    /// The unqualified table name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The database, when the name is qualified (otherwise the connection's database).
    pub fn database(&self) -> Option<&str> {
        self.0.qualifier.as_deref()
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

/// The statement that creates the session table with its indexes, for teams that run their
/// own migrations. The provider runs the same statement (`IF NOT EXISTS`) when it starts.
///
/// ```
/// let sql = session_mysql::schema_sql("sessions")?;
/// assert!(sql.contains("LONGBLOB") && sql.contains("ENGINE=InnoDB"));
/// # Ok::<(), session_core::Error>(())
/// ```
pub fn schema_sql(table: &str) -> Result<String> {
    Ok(schema_for(&TableName::parse(table)?))
}

pub(crate) fn schema_for(table: &TableName) -> String {
    // Index names are scoped to their table in MySQL, so fixed names cannot collide.
    format!(
        "CREATE TABLE IF NOT EXISTS {} (\n    \
             `id`         VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,\n    \
             `data`       LONGBLOB     NOT NULL,\n    \
             `expires_at` BIGINT       NOT NULL,\n    \
             `version`    BIGINT UNSIGNED NOT NULL,\n    \
             `owner`      VARCHAR({MAX_OWNER_CHARS}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,\n    \
             PRIMARY KEY (`id`),\n    \
             KEY `expires_at_idx` (`expires_at`),\n    \
             KEY `owner_idx` (`owner`)\n\
         ) ENGINE=InnoDB",
        table.quoted()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_are_quoted() {
        assert_eq!(TableName::parse("sessions").unwrap().quoted(), "`sessions`");
        let t = TableName::parse("app_1.Sess").unwrap();
        assert_eq!(t.quoted(), "`app_1`.`Sess`");
        assert_eq!((t.database(), t.name()), (Some("app_1"), "Sess"));
        assert!(TableName::parse(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn invalid_names_are_config_errors_naming_table() {
        for bad in [
            "",
            "x; DROP TABLE y",
            "x`; DROP TABLE y; --",
            "1abc",
            "a-b",
            "a.b.c",
            ".a",
            "a.",
            "séance",
            "a b",
            &"a".repeat(65),
        ] {
            match TableName::parse(bad) {
                Err(Error::Config { field, .. }) => assert_eq!(field, "table", "{bad:?}"),
                other => panic!("{bad:?} was accepted: {other:?}"),
            }
        }
    }

    #[test]
    fn schema_has_the_documented_shape() {
        let sql = schema_sql("db.sessions").unwrap();
        for part in [
            "CREATE TABLE IF NOT EXISTS `db`.`sessions`",
            "`id`         VARCHAR(128)",
            "LONGBLOB",
            "`expires_at` BIGINT",
            "`version`    BIGINT UNSIGNED",
            "`owner`      VARCHAR(255)",
            "KEY `expires_at_idx` (`expires_at`)",
            "KEY `owner_idx` (`owner`)",
            "ENGINE=InnoDB",
        ] {
            assert!(sql.contains(part), "{part} missing from\n{sql}");
        }
    }
}
