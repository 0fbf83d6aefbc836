//! The config keys every sqlx-based provider accepts besides its connection keys: the
//! pool's size and acquire timeout.

use std::time::Duration;

use session_core::{Error, Result, config_string};

/// Pool size when the config sets none.
pub const DEFAULT_POOL_SIZE: u32 = 10;

/// How long a request waits for a pooled connection before failing with `Error::Backend`.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Applies `key` when it is a pool key: `pool_size` (or `max_connections`, a positive whole
/// number) to `pool_size`, `acquire_timeout` (positive seconds, fractions allowed) to
/// `acquire_timeout`. Returns false, changing nothing, for any other key; a bad value is an
/// [`Error::Config`] naming the key.
pub fn pool_key(
    key: &str,
    value: &str,
    pool_size: &mut u32,
    acquire_timeout: &mut Duration,
) -> Result<bool> {
    match key {
        "pool_size" | "max_connections" => *pool_size = config_string::positive(key, value)?,
        // Fractional seconds are allowed, so `config::seconds` does not fit.
        "acquire_timeout" => {
            *acquire_timeout = value
                .trim()
                .parse()
                .ok()
                .filter(|s: &f64| *s > 0.0)
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .ok_or_else(|| {
                    Error::config(
                        key,
                        format!("expected a positive number of seconds, got {value:?}"),
                    )
                })?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn apply(key: &str, value: &str) -> Result<(bool, u32, Duration)> {
        let (mut size, mut timeout) = (DEFAULT_POOL_SIZE, DEFAULT_ACQUIRE_TIMEOUT);
        let applied = pool_key(key, value, &mut size, &mut timeout)?;
        Ok((applied, size, timeout))
    }

    fn field(result: Result<(bool, u32, Duration)>) -> String {
        match result {
            Err(Error::Config { field, .. }) => field,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn pool_keys_set_their_value() {
        assert_eq!(
            apply("pool_size", "3").unwrap(),
            (true, 3, DEFAULT_ACQUIRE_TIMEOUT)
        );
        assert_eq!(
            apply("max_connections", "4").unwrap(),
            (true, 4, DEFAULT_ACQUIRE_TIMEOUT)
        );
        assert_eq!(
            apply("acquire_timeout", "0.5").unwrap(),
            (true, DEFAULT_POOL_SIZE, Duration::from_millis(500))
        );
    }

    #[test]
    fn other_keys_are_left_to_the_provider() {
        assert_eq!(
            apply("table", "x").unwrap(),
            (false, DEFAULT_POOL_SIZE, DEFAULT_ACQUIRE_TIMEOUT)
        );
    }

    #[test]
    fn bad_values_are_config_errors_naming_the_key() {
        for (key, value) in [
            ("pool_size", "0"),
            ("pool_size", "x"),
            ("max_connections", "-1"),
            ("acquire_timeout", "0"),
            ("acquire_timeout", "-1"),
            ("acquire_timeout", "soon"),
            ("acquire_timeout", "1e400"),
        ] {
            assert_eq!(field(apply(key, value)), key, "{key}={value}");
        }
    }
}
