//! The session table's schema: the statement the provider runs at start-up, also offered to
//! teams that run their own migrations.

use session_core::Result;

use crate::TableName;

/// Longest owner string the `owner` column holds, in characters.
pub const MAX_OWNER_CHARS: usize = 255;

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
        assert_eq!((t.qualifier(), t.name()), (Some("app_1"), "Sess"));
        assert!(TableName::parse(&"a".repeat(64)).is_ok());
        assert!(TableName::parse(&"a".repeat(65)).is_err());
        assert!(TableName::parse("x`; DROP TABLE y; --").is_err());
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
