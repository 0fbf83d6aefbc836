//! Checks of a provider's config-string parser, for the providers' unit tests.

use session_core::Error;

use crate::{ConfigSyntax, DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_POOL_SIZE, DEFAULT_TABLE, SqlConfig};

/// The key named by the config error that `config` gives; fails the test when it parses or
/// fails otherwise.
pub fn config_field<D: ConfigSyntax>(config: &str) -> String {
    match config.parse::<SqlConfig<D>>() {
        Err(Error::Config { field, .. }) => field,
        other => panic!("{config}: expected a config error, got {other:?}"),
    }
}

/// Each `(config, key)` of `cases` is refused with a config error naming `key`.
pub fn refused_naming<D: ConfigSyntax>(cases: &[(&str, &str)]) {
    for (config, key) in cases {
        assert_eq!(config_field::<D>(config), *key, "{config}");
    }
}

/// An empty config string means the default table, pool size and acquire timeout, and
/// `Debug` of `with_password` (a config whose password is `hunter2`) never shows it.
pub fn defaults_and_hidden_password<D: ConfigSyntax>(with_password: &str) {
    let parsed = "".parse::<SqlConfig<D>>();
    let config = parsed.unwrap_or_else(|e| panic!("the empty config: {e}"));
    assert_eq!(config.table.name(), DEFAULT_TABLE);
    assert_eq!(config.pool_size, DEFAULT_POOL_SIZE);
    assert_eq!(config.acquire_timeout, DEFAULT_ACQUIRE_TIMEOUT);
    let parsed = with_password.parse::<SqlConfig<D>>();
    let config = parsed.unwrap_or_else(|e| panic!("{with_password}: {e}"));
    let shown = format!("{config:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
}

/// For a provider built without its `tls` feature: each `(config, key)` of `needs_tls` is a
/// config error naming `key` and the feature, and each config of `plain` parses.
pub fn tls_needs_the_feature<D: ConfigSyntax>(needs_tls: &[(&str, &str)], plain: &[&str]) {
    for (config, key) in needs_tls {
        match config.parse::<SqlConfig<D>>() {
            Err(Error::Config { field, message }) => {
                assert_eq!(field, *key, "{config}");
                assert!(message.contains("`tls` feature"), "{message}");
            }
            other => panic!("{config} accepted: {other:?}"),
        }
    }
    for config in plain {
        let parsed = config.parse::<SqlConfig<D>>();
        parsed.unwrap_or_else(|e| panic!("{config}: {e}"));
    }
}
