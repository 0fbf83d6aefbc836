//! The provider config string.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use session_core::{Error, Result, config_string};

/// Macaron's default root, used when the config string is empty.
pub const DEFAULT_ROOT: &str = "data/sessions";
/// How old (by modification time) a temporary file must be before GC treats it as orphaned.
pub const DEFAULT_ORPHAN_GRACE: Duration = Duration::from_secs(10 * 60);
/// The shortest grace accepted: a writer's temporary file lives for milliseconds, but a slow
/// disk under load must never see its file removed mid-write.
pub const MIN_ORPHAN_GRACE: Duration = Duration::from_secs(60);

/// Settings of a [`crate::FileStore`]: parsed from the config string (`FromStr`) or built in
/// code with [`FileConfig::new`] or a struct literal.
///
/// ```
/// use std::time::Duration;
/// use session_file::FileConfig;
///
/// let parsed: FileConfig = "root=/srv/sessions,orphan_grace=600".parse()?;
/// let built = FileConfig {
///     orphan_grace: Duration::from_secs(600),
///     ..FileConfig::new("/srv/sessions")
/// };
/// assert_eq!(parsed, built);
/// # Ok::<(), session_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileConfig {
    /// The root directory (relative paths are relative to the process's working directory).
    pub root: PathBuf,
    /// Age after which GC removes temporary and corrupt files.
    pub orphan_grace: Duration,
}

impl Default for FileConfig {
    fn default() -> Self {
        FileConfig::new(DEFAULT_ROOT)
    }
}

impl FileConfig {
    /// A config with `root` and the default grace period.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FileConfig {
            root: root.into(),
            orphan_grace: DEFAULT_ORPHAN_GRACE,
        }
    }

    /// The rules both the config string and a config built in code obey: a root, and a
    /// grace of at least [`MIN_ORPHAN_GRACE`].
    pub(crate) fn validate(&self) -> Result<()> {
        if self.root.as_os_str().is_empty() {
            return Err(Error::config("root", "must not be empty"));
        }
        if self.orphan_grace < MIN_ORPHAN_GRACE {
            return Err(Error::config(
                "orphan_grace",
                format!("must be at least {} seconds", MIN_ORPHAN_GRACE.as_secs()),
            ));
        }
        Ok(())
    }
}

impl FromStr for FileConfig {
    type Err = Error;

    /// Parses a provider config string.
    ///
    /// - empty: [`DEFAULT_ROOT`];
    /// - a plain path, as in Macaron (`data/sessions`, `/var/lib/app/sessions`);
    /// - `key=value` pairs separated by commas: `root=<path>` and `orphan_grace=<seconds>`
    ///   (at least 60). The key form is recognised when the text before the first `=` is a
    ///   bare word (letters, digits, `_`); any other key is an error naming it.
    fn from_str(config: &str) -> Result<Self> {
        let config = config.trim();
        if config.is_empty() {
            return Ok(FileConfig::default());
        }
        if !looks_like_pairs(config) {
            return Ok(FileConfig::new(config));
        }
        let mut root = None;
        let mut grace = None;
        for (key, value) in config_string::pairs(config, ',')? {
            let key = key.as_str();
            match key {
                "root" => set_once(&mut root, key, PathBuf::from(value))?,
                "orphan_grace" => {
                    set_once(&mut grace, key, config_string::seconds(key, &value)?)?;
                }
                _ => return Err(Error::config(key, "unknown file provider option")),
            }
        }
        let parsed = FileConfig {
            root: root.unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT)),
            orphan_grace: grace.unwrap_or(DEFAULT_ORPHAN_GRACE),
        };
        parsed.validate()?;
        Ok(parsed)
    }
}

fn looks_like_pairs(config: &str) -> bool {
    config.split_once('=').is_some_and(|(key, _)| {
        let key = key.trim();
        !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

fn set_once<T>(slot: &mut Option<T>, key: &str, value: T) -> Result<()> {
    if slot.replace(value).is_some() {
        return Err(Error::config(key, "given more than once"));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn field(config: &str) -> String {
        match FileConfig::from_str(config) {
            Err(Error::Config { field, .. }) => field,
            other => panic!("{config:?} gave {other:?}"),
        }
    }

    #[test]
    fn macaron_forms() {
        assert_eq!(
            FileConfig::from_str("").unwrap().root,
            PathBuf::from(DEFAULT_ROOT)
        );
        assert_eq!(
            FileConfig::from_str("data/sessions").unwrap().root,
            PathBuf::from("data/sessions")
        );
        assert_eq!(
            FileConfig::from_str(" /var/lib/app/sessions ")
                .unwrap()
                .root,
            PathBuf::from("/var/lib/app/sessions")
        );
        // A path that merely contains `=` after a slash is still a path.
        assert_eq!(
            FileConfig::from_str("data/a=b").unwrap().root,
            PathBuf::from("data/a=b")
        );
    }

    #[test]
    fn key_value_form() {
        let config = FileConfig::from_str("root=/srv/sessions, orphan_grace=600").unwrap();
        assert_eq!(config.root, PathBuf::from("/srv/sessions"));
        assert_eq!(config.orphan_grace, Duration::from_secs(600));
        assert_eq!(
            FileConfig::from_str("orphan_grace=120").unwrap().root,
            PathBuf::from(DEFAULT_ROOT)
        );
    }

    #[test]
    fn errors_name_the_key() {
        assert_eq!(field("root=/x,colour=blue"), "colour");
        assert_eq!(field("prefix=abc"), "prefix");
        assert_eq!(field("root="), "root");
        assert_eq!(field("root=/a,root=/b"), "root");
        assert_eq!(field("orphan_grace=soon"), "orphan_grace");
        assert_eq!(field("orphan_grace=5"), "orphan_grace");
        assert_eq!(field("root=/a,lonely"), "lonely");
    }

    #[test]
    fn a_config_built_in_code_obeys_the_same_rules() {
        let short = FileConfig {
            orphan_grace: Duration::from_secs(5),
            ..FileConfig::new("/srv/sessions")
        };
        assert!(
            matches!(short.validate(), Err(Error::Config { field, .. }) if field == "orphan_grace")
        );
        assert!(
            matches!(FileConfig::new("").validate(), Err(Error::Config { field, .. }) if field == "root")
        );
        assert!(FileConfig::default().validate().is_ok());
    }
}
