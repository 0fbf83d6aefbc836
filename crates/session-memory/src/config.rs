//! [`MemoryConfig`]: the provider's settings, from its config string or built in code.

use std::num::NonZeroUsize;
use std::str::FromStr;

use session_core::Error;

/// Settings of a [`crate::MemoryStore`].
///
/// The config string is empty (unbounded) or `capacity=N`; in code, a struct literal:
///
/// ```
/// use std::num::NonZeroUsize;
/// use session_memory::MemoryConfig;
///
/// let parsed: MemoryConfig = "capacity=1000".parse()?;
/// let built = MemoryConfig { capacity: NonZeroUsize::new(1000) };
/// assert_eq!(parsed, built);
/// # Ok::<(), session_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryConfig {
    /// The most sessions held at once (unbounded with `None`). When full, an insert first
    /// drops the expired sessions of its shard, then the one closest to expiry.
    pub capacity: Option<NonZeroUsize>,
}

impl FromStr for MemoryConfig {
    type Err = Error;

    /// Parses the config string: empty, or `capacity=N` with `N` greater than zero. Any
    /// other key is an [`Error::Config`] naming it.
    fn from_str(config: &str) -> Result<Self, Error> {
        let mut parsed = MemoryConfig::default();
        for pair in config.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("capacity", value)) => {
                    let n: usize = value.trim().parse().map_err(|_| {
                        Error::config(
                            "capacity",
                            format!("expected a positive number, got {value:?}"),
                        )
                    })?;
                    let n = NonZeroUsize::new(n)
                        .ok_or_else(|| Error::config("capacity", "must be greater than zero"))?;
                    parsed.capacity = Some(n);
                }
                Some((key, _)) => return Err(Error::config(key, "unknown memory provider option")),
                None => return Err(Error::config(pair, "expected key=value")),
            }
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(config: &str) -> String {
        match config.parse::<MemoryConfig>() {
            Err(Error::Config { field, .. }) => field,
            other => panic!("{config:?} gave {other:?}"),
        }
    }

    #[test]
    fn empty_is_unbounded_and_capacity_is_read() {
        assert_eq!(
            "".parse::<MemoryConfig>().ok(),
            Some(MemoryConfig::default())
        );
        assert_eq!(
            "capacity= 5 ".parse::<MemoryConfig>().ok(),
            Some(MemoryConfig {
                capacity: NonZeroUsize::new(5)
            })
        );
    }

    #[test]
    fn errors_name_the_key() {
        assert_eq!(field("capacity=0"), "capacity");
        assert_eq!(field("capacity=-1"), "capacity");
        assert_eq!(field("capacity=lots"), "capacity");
        assert_eq!(field("capacity=5,colour=blue"), "colour");
        assert_eq!(field("lonely"), "lonely");
    }
}
