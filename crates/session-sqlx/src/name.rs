//! Table names from a config string: the rules a SQL identifier must meet to reach statement
//! text, and a checked table name quoted in a provider's dialect.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use session_core::{Error, Result};

use crate::dialect::Dialect;

/// The table used when the config names none.
pub const DEFAULT_TABLE: &str = "sessions";

/// A validated SQL name, optionally qualified (`schema.table` / `database.table`): each part a
/// letter or `_` followed by letters, digits or `_`, at most `max_part` characters. Providers
/// still quote it in SQL; the check keeps anything else out of the statement text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlName {
    /// The qualifier, when given.
    pub qualifier: Option<String>,
    /// The unqualified name.
    pub name: String,
}

impl SqlName {
    /// Parses `value` for config key `key`; anything else is an [`Error::Config`] naming `key`.
    pub fn parse(key: &str, value: &str, max_part: usize) -> Result<Self> {
        let (qualifier, name) = match value.split_once('.') {
            Some((q, n)) => (Some(q), n),
            None => (None, value),
        };
        let is_ident = |part: &str| {
            let mut chars = part.chars();
            part.len() <= max_part
                && chars
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        if qualifier.is_none_or(is_ident) && is_ident(name) {
            Ok(SqlName {
                qualifier: qualifier.map(str::to_owned),
                name: name.to_owned(),
            })
        } else {
            Err(Error::config(
                key,
                format!(
                    "{value:?} is not a valid name: use `name` or `qualifier.name`, each part a \
                     letter or `_` followed by letters, digits or `_`, at most {max_part} long"
                ),
            ))
        }
    }
}

/// A validated session table name in dialect `D`, optionally qualified by a schema
/// (PostgreSQL) or database (MySQL).
///
/// Each part follows [`SqlName`]'s rules with the dialect's identifier length
/// ([`Dialect::MAX_IDENT`]). Names are always quoted in SQL, so a reserved word works as a
/// name and the case is kept as written.
pub struct TableName<D> {
    name: SqlName,
    dialect: PhantomData<fn() -> D>,
}

impl<D: Dialect> TableName<D> {
    /// Parses and validates `table` or `qualifier.table`; anything else is an
    /// [`Error::Config`] for the key `table`.
    pub fn parse(value: &str) -> Result<Self> {
        SqlName::parse("table", value, D::MAX_IDENT).map(Self::from_checked)
    }

    fn from_checked(name: SqlName) -> Self {
        TableName {
            name,
            dialect: PhantomData,
        }
    }

    /// The name as SQL, each part quoted in the dialect: `"schema"."table"`,
    /// `` `database`.`table` ``.
    pub fn quoted(&self) -> String {
        let q = D::QUOTE;
        match &self.name.qualifier {
            Some(qualifier) => format!("{q}{qualifier}{q}.{q}{}{q}", self.name.name),
            None => format!("{q}{}{q}", self.name.name),
        }
    }

    /// The unqualified, unquoted table name.
    pub fn name(&self) -> &str {
        &self.name.name
    }

    /// The schema or database, when the name is qualified.
    pub fn qualifier(&self) -> Option<&str> {
        self.name.qualifier.as_deref()
    }
}

impl<D: Dialect> Default for TableName<D> {
    /// [`DEFAULT_TABLE`], unqualified.
    fn default() -> Self {
        Self::from_checked(SqlName {
            qualifier: None,
            name: DEFAULT_TABLE.to_owned(),
        })
    }
}

impl<D: Dialect> FromStr for TableName<D> {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        TableName::parse(s)
    }
}

impl<D: Dialect> fmt::Display for TableName<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.quoted())
    }
}

// Not derived: deriving would require the marker `D` itself to be Debug, Clone and Eq.
impl<D: Dialect> fmt::Debug for TableName<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TableName").field(&self.quoted()).finish()
    }
}

impl<D> Clone for TableName<D> {
    fn clone(&self) -> Self {
        TableName {
            name: self.name.clone(),
            dialect: PhantomData,
        }
    }
}

impl<D> PartialEq for TableName<D> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl<D> Eq for TableName<D> {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn field(e: Error) -> String {
        match e {
            Error::Config { field, .. } => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn identifiers_and_one_qualifier_are_accepted() {
        let name = SqlName::parse("table", "App_1.Sess", 63).unwrap();
        assert_eq!(name.qualifier.as_deref(), Some("App_1"));
        assert_eq!(name.name, "Sess");
        assert!(SqlName::parse("table", &"a".repeat(63), 63).is_ok());
        assert!(SqlName::parse("table", "_x", 63).is_ok());
    }

    #[test]
    fn anything_else_is_a_config_error_naming_the_key() {
        for bad in [
            "",
            "1abc",
            "x; DROP TABLE y",
            "x`; DROP TABLE y; --",
            "sess\"ions",
            "\"x\"",
            "a-b",
            "a.b.c",
            ".a",
            "a.",
            "séance",
            "a b",
            &"a".repeat(64),
            &format!("{}.a", "a".repeat(64)),
        ] {
            let e = SqlName::parse("table", bad, 63).unwrap_err();
            assert_eq!(field(e), "table", "{bad:?}");
        }
    }
}
