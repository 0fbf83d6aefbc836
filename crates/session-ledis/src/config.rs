//! The provider config string: Macaron's `data_dir=PATH[,db=N]`, or a bare path.

use std::path::PathBuf;
use std::str::FromStr;

use session_core::{Error, Result};

const DEFAULT_DIR: &str = "data/ledis";

/// Settings of a [`crate::LedisStore`]: parsed from the config string (`FromStr`) or built in
/// code with [`LedisConfig::new`] or a struct literal.
///
/// ```
/// use session_ledis::LedisConfig;
///
/// let parsed: LedisConfig = "data_dir=/var/lib/app/sessions,db=2".parse()?;
/// let built = LedisConfig { db: 2, ..LedisConfig::new("/var/lib/app/sessions") };
/// assert_eq!(parsed, built);
/// # Ok::<(), session_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedisConfig {
    /// The sled directory.
    pub data_dir: PathBuf,
    /// The namespace: trees are named `db<N>.<tree>`.
    pub db: u32,
}

impl Default for LedisConfig {
    /// `data/ledis`, db 0.
    fn default() -> Self {
        LedisConfig::new(DEFAULT_DIR)
    }
}

impl LedisConfig {
    /// A config for the sled directory `data_dir`, namespace 0.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        LedisConfig {
            data_dir: data_dir.into(),
            db: 0,
        }
    }

    /// The rule the config string's parser applies, for a config built in code: a directory.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(Error::config("data_dir", "must not be empty"));
        }
        Ok(())
    }
}

impl FromStr for LedisConfig {
    type Err = Error;

    /// Parses `config`: empty (`data/ledis`, db 0), a bare path (no `=`), or comma-separated
    /// `data_dir=PATH` and `db=N`.
    fn from_str(config: &str) -> Result<Self> {
        let config = config.trim();
        let mut cfg = LedisConfig::default();
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
                    cfg.data_dir = PathBuf::from(value.trim());
                    cfg.validate()?;
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
        let c = LedisConfig::from_str("data_dir=./app.db,db=3").unwrap();
        assert_eq!(c.data_dir, PathBuf::from("./app.db"));
        assert_eq!(c.db, 3);
        let c = LedisConfig::from_str(" data_dir = /var/lib/s ").unwrap();
        assert_eq!((c.data_dir, c.db), (PathBuf::from("/var/lib/s"), 0));
    }

    #[test]
    fn bare_path_and_default() {
        assert_eq!(
            LedisConfig::from_str("/tmp/sessions, with comma")
                .unwrap()
                .data_dir,
            PathBuf::from("/tmp/sessions, with comma")
        );
        assert_eq!(
            LedisConfig::from_str("").unwrap().data_dir,
            PathBuf::from("data/ledis")
        );
    }

    #[test]
    fn errors_name_the_key() {
        assert_eq!(
            field(LedisConfig::from_str("data_dir=x,dbs=1").unwrap_err()),
            "dbs"
        );
        assert_eq!(
            field(LedisConfig::from_str("data_dir=x,db=-1").unwrap_err()),
            "db"
        );
        assert_eq!(
            field(LedisConfig::from_str("data_dir=").unwrap_err()),
            "data_dir"
        );
        assert_eq!(
            field(LedisConfig::from_str("data_dir=x,verbose").unwrap_err()),
            "verbose"
        );
    }

    #[test]
    fn a_config_built_in_code_obeys_the_same_rules() {
        assert_eq!(
            field(LedisConfig::new("").validate().unwrap_err()),
            "data_dir"
        );
        assert!(LedisConfig::default().validate().is_ok());
    }
}
