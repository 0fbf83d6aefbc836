//! Helpers for parsing provider config strings (the `provider_config` of [`crate::Options`]),
//! so every provider parses the same way: `key=value` lists, numbers, durations, booleans and
//! secrets that stay out of logs. (SQL table names are `session-sqlx`'s.)
//! Every error is an [`Error::Config`] naming the key at fault.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::error::{Error, Result};

/// Splits a `key=value` list on `separator` (Macaron's providers use `,`; libpq DSNs use
/// whitespace, see [`split_whitespace_pairs`]). Keys are trimmed and lower-cased, values
/// trimmed; empty items are skipped; an item without `=` is an error naming it.
pub fn pairs(config: &str, separator: char) -> Result<Vec<(String, String)>> {
    config
        .split(separator)
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(pair)
        .collect()
}

/// Like [`pairs`], separated by runs of whitespace.
pub fn split_whitespace_pairs(config: &str) -> Result<Vec<(String, String)>> {
    config.split_whitespace().map(pair).collect()
}

fn pair(item: &str) -> Result<(String, String)> {
    match item.split_once('=') {
        Some((key, value)) => Ok((key.trim().to_ascii_lowercase(), value.trim().to_owned())),
        None => Err(Error::config(item, "expected key=value")),
    }
}

/// A number (any `FromStr` integer type) for `key`.
pub fn number<T: FromStr>(key: &str, value: &str) -> Result<T> {
    value
        .trim()
        .parse()
        .map_err(|_| Error::config(key, format!("expected a whole number, got {value:?}")))
}

/// A positive number for `key` (pool sizes, capacities).
pub fn positive<T: FromStr + PartialOrd + Default>(key: &str, value: &str) -> Result<T> {
    let n: T = number(key, value)?;
    if n > T::default() {
        Ok(n)
    } else {
        Err(Error::config(
            key,
            format!("must be greater than zero, got {value:?}"),
        ))
    }
}

/// Whole seconds for `key`.
pub fn seconds(key: &str, value: &str) -> Result<Duration> {
    let n: u64 = value
        .trim()
        .parse()
        .map_err(|_| Error::config(key, format!("expected whole seconds, got {value:?}")))?;
    Ok(Duration::from_secs(n))
}

/// A boolean for `key`: true/false, 1/0, yes/no, on/off.
pub fn boolean(key: &str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(Error::config(
            key,
            format!("expected true or false, got {value:?}"),
        )),
    }
}

/// A secret from a config string (a password). `Debug` and `Display` never print it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, to hand to a client library.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "\"\""
        } else {
            "<redacted>"
        })
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(e: Error) -> String {
        match e {
            Error::Config { field, .. } => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn pairs_trim_lowercase_and_name_bad_items() {
        assert_eq!(
            pairs(" Addr=:6379 , prefix=s: ,,", ',').unwrap(),
            [
                ("addr".to_owned(), ":6379".to_owned()),
                ("prefix".to_owned(), "s:".to_owned())
            ]
        );
        assert_eq!(field(pairs("a=1,oops", ',').unwrap_err()), "oops");
        assert_eq!(split_whitespace_pairs("user=a  dbname=b").unwrap().len(), 2);
    }

    #[test]
    fn values_name_their_key() {
        assert_eq!(
            field(number::<u32>("pool_size", "x").unwrap_err()),
            "pool_size"
        );
        assert_eq!(
            field(positive::<u32>("pool_size", "0").unwrap_err()),
            "pool_size"
        );
        assert_eq!(positive::<u32>("pool_size", "5").unwrap(), 5);
        assert_eq!(seconds("timeout", "3").unwrap(), Duration::from_secs(3));
        assert_eq!(field(seconds("timeout", "-1").unwrap_err()), "timeout");
        assert!(boolean("tls", "On").unwrap());
        assert_eq!(field(boolean("tls", "maybe").unwrap_err()), "tls");
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?} {s}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2");
    }
}
