//! The provider config string: Macaron's `data_dir=PATH[,db=N]`, or a bare path.

use std::path::PathBuf;

use session_core::{Error, Result};

const DEFAULT_DIR: &str = "data/ledis";

/// A parsed config string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedisConfig {
    /// The sled directory.
    pub data_dir: PathBuf,
    /// The namespace: trees are named `db<N>.<tree>`.
    pub db: u32,
}

impl LedisConfig {
    /// Parses `config`: empty (`data/ledis`, db 0), a bare path (no `=`), or comma-separated
    /// `data_dir=PATH` and `db=N`.
    pub fn parse(config: &str) -> Result<Self> {
        let config = config.trim();
        let mut cfg = LedisConfig {
            data_dir: PathBuf::from(DEFAULT_DIR),
            db: 0,
        };
        if config.is_empty() {
            return Ok(cfg);
        }
        if !config.contains('=') {
            cfg.data_dir = PathBuf::from(config);
            return Ok(cfg);
        }
        for pair in config.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match pair.split_once('=').map(|(k, v)| (k.trim(), v)) {
                Some(("data_dir", value)) => {
                    let value = value.trim();
                    if value.is_empty() {
                        return Err(Error::config("data_dir", "must not be empty"));
                    }
                    cfg.data_dir = PathBuf::from(value);
                }
                Some(("db", value)) => {
                    cfg.db = value.trim().parse().map_err(|_| {
                        Error::config(
                            "db",
                            format!("expected a non-negative number, got {value:?}"),
                        )
                    })?;
                }
                Some((key, _)) => {
                    return Err(Error::config(key, "unknown ledis provider option"));
                }
                None => {
                    return Err(Error::config(
                        pair,
                        "expected key=value (data_dir=PATH,db=N) or a bare path",
                    ));
                }
            }
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(e: Error) -> String {
        match e {
            Error::Config { field, .. } => field,
            other => panic!("expected a config error, got {other}"),
        }
    }

    #[test]
    fn macaron_form() {
        let c = LedisConfig::parse("data_dir=./app.db,db=3").unwrap();
        assert_eq!(c.data_dir, PathBuf::from("./app.db"));
        assert_eq!(c.db, 3);
        let c = LedisConfig::parse(" data_dir = /var/lib/s ").unwrap();
        assert_eq!((c.data_dir, c.db), (PathBuf::from("/var/lib/s"), 0));
    }

    #[test]
    fn bare_path_and_default() {
        assert_eq!(
            LedisConfig::parse("/tmp/sessions, with comma")
                .unwrap()
                .data_dir,
            PathBuf::from("/tmp/sessions, with comma")
        );
        assert_eq!(
            LedisConfig::parse("").unwrap().data_dir,
            PathBuf::from("data/ledis")
        );
    }

    #[test]
    fn errors_name_the_key() {
        assert_eq!(
            field(LedisConfig::parse("data_dir=x,dbs=1").unwrap_err()),
            "dbs"
        );
        assert_eq!(
            field(LedisConfig::parse("data_dir=x,db=-1").unwrap_err()),
            "db"
        );
        assert_eq!(
            field(LedisConfig::parse("data_dir=").unwrap_err()),
            "data_dir"
        );
        assert_eq!(
            field(LedisConfig::parse("data_dir=x,verbose").unwrap_err()),
            "verbose"
        );
    }
}
