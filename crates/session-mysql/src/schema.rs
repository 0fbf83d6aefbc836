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
    // `gc_after` comes last, where the upgrade of an older table adds it. Its default only
    // serves writers of the previous layout during a rolling upgrade (their inserts name no
    // `gc_after`): a mark of 0 is below any expiry, as a mark must be, so GC still finds
    // the row and deletes it once `expires_at` passed.
    format!(
        "CREATE TABLE IF NOT EXISTS {} (\n    \
             `id`         VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,\n    \
             `data`       LONGBLOB     NOT NULL,\n    \
             `expires_at` BIGINT       NOT NULL,\n    \
             `version`    BIGINT UNSIGNED NOT NULL,\n    \
             `owner`      VARCHAR({MAX_OWNER_CHARS}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,\n    \
             `gc_after`   BIGINT       NOT NULL DEFAULT 0,\n    \
             PRIMARY KEY (`id`),\n    \
             KEY `gc_after_idx` (`gc_after`),\n    \
             KEY `owner_idx` (`owner`)\n\
         ) ENGINE=InnoDB",
        table.quoted()
    )
}

/// The statement that brings a table of the previous layout (no `gc_after`, GC through
/// `expires_at_idx`) to this one: add the column, add its index, drop the provider's old
/// expiry index (an index on a column every save writes costs every save an index write).
/// Each part only when asked for; `None` when there is nothing to do.
///
/// One `ALTER TABLE`, so the server rebuilds what it must once. Adding a column with a
/// constant default is instant on MariaDB 10.3 and MySQL 8.0 and later; the rows already
/// there get mark 0, which is correct as it is: a mark only has to be at most the expiry for
/// GC to find the row (it deletes on `expires_at`), and the row's next save sets a closer one.
pub(crate) fn upgrade_for(
    table: &TableName,
    add_column: bool,
    add_index: bool,
    drop_old_index: bool,
) -> Option<String> {
    let parts: Vec<&str> = [
        (
            add_column,
            "ADD COLUMN `gc_after` BIGINT NOT NULL DEFAULT 0",
        ),
        (add_index, "ADD KEY `gc_after_idx` (`gc_after`)"),
        (drop_old_index, "DROP KEY `expires_at_idx`"),
    ]
    .into_iter()
    .filter_map(|(wanted, part)| wanted.then_some(part))
    .collect();
    (!parts.is_empty()).then(|| format!("ALTER TABLE {} {}", table.quoted(), parts.join(", ")))
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
            "`gc_after`   BIGINT       NOT NULL DEFAULT 0",
            "KEY `gc_after_idx` (`gc_after`)",
            "KEY `owner_idx` (`owner`)",
            "ENGINE=InnoDB",
        ] {
            assert!(sql.contains(part), "{part} missing from\n{sql}");
        }
        assert!(
            !sql.contains("(`expires_at`)"),
            "expires_at is not indexed:\n{sql}"
        );
    }

    #[test]
    fn the_upgrade_is_one_statement_with_only_what_is_missing() {
        let t = TableName::parse("db.sessions").unwrap();
        assert_eq!(upgrade_for(&t, false, false, false), None);
        assert_eq!(
            upgrade_for(&t, true, true, true).unwrap(),
            "ALTER TABLE `db`.`sessions` ADD COLUMN `gc_after` BIGINT NOT NULL DEFAULT 0, \
             ADD KEY `gc_after_idx` (`gc_after`), DROP KEY `expires_at_idx`"
        );
        assert_eq!(
            upgrade_for(&t, false, false, true).unwrap(),
            "ALTER TABLE `db`.`sessions` DROP KEY `expires_at_idx`"
        );
    }
}
