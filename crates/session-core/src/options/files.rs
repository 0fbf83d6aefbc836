//! Loading [`Options`] from a config file: the `[session]` section of a TOML or INI file,
//! with Macaron's key spellings.

use std::path::Path;

use super::Options;
use crate::error::{Error, Result};

impl Options {
    /// Loads options from the `[session]` section of a TOML (`.toml`) or INI (anything else)
    /// file. Keys use Macaron's spellings (`PROVIDER`, `PROVIDER_CONFIG`, `COOKIE_NAME`, ...),
    /// in any case; an unknown key or a bad value is an error that names it.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_file_section(path, "session")
    }

    /// Like [`Options::from_file`], reading section `section` instead of `[session]`.
    pub fn from_file_section(path: impl AsRef<Path>, section: &str) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::config("config file", format!("{}: {e}", path.display())))?;
        let is_toml = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
        let pairs = if is_toml {
            toml_section(&text, section)?
        } else {
            ini_section(&text, section)?
        };
        let mut options = Options {
            section: section.to_owned(),
            ..Options::default()
        };
        for (key, value) in pairs {
            options.set(&key, &value)?;
        }
        options.validate()?;
        Ok(options)
    }
}

fn toml_section(text: &str, section: &str) -> Result<Vec<(String, String)>> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| Error::config("config file", e.to_string()))?;
    let Some(found) = table.get(section) else {
        return Ok(Vec::new());
    };
    let found = found
        .as_table()
        .ok_or_else(|| Error::config(section, "is not a table"))?;
    found
        .iter()
        .map(|(k, v)| {
            let text = match v {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                _ => return Err(Error::config(k, "expected a string, integer or boolean")),
            };
            Ok((k.clone(), text))
        })
        .collect()
}

fn ini_section(text: &str, section: &str) -> Result<Vec<(String, String)>> {
    let ini =
        ini::Ini::load_from_str(text).map_err(|e| Error::config("config file", e.to_string()))?;
    Ok(ini
        .section(Some(section))
        .map(|props| {
            props
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default())
}
