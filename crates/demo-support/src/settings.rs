//! The demo's settings: session options from `--config FILE` and the `SESSION_*` environment,
//! and the address to listen on.

use anyhow::{Context as _, bail};
use session_core::Options;

/// What `--help` prints, and what follows every argument error.
pub const USAGE: &str = "usage: demo [--config FILE]\n\
    environment: SESSION_PROVIDER, SESSION_PROVIDER_CONFIG, SESSION_SECURE, SESSION_DEMO_ADDR,\n\
    SESSION_ENCRYPTION_KEYS, SESSION_ENCRYPTION_KEYS_FILE, SESSION_ENCRYPTION_ACCEPT_PLAINTEXT";

/// Where the demo listens when `SESSION_DEMO_ADDR` is not set.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// The environment variables that override an option, and the option key each one sets.
const ENV_OPTIONS: [(&str, &str); 6] = [
    ("SESSION_PROVIDER", "PROVIDER"),
    ("SESSION_PROVIDER_CONFIG", "PROVIDER_CONFIG"),
    ("SESSION_SECURE", "SECURE"),
    ("SESSION_ENCRYPTION_KEYS", "ENCRYPTION_KEYS"),
    ("SESSION_ENCRYPTION_KEYS_FILE", "ENCRYPTION_KEYS_FILE"),
    (
        "SESSION_ENCRYPTION_ACCEPT_PLAINTEXT",
        "ENCRYPTION_ACCEPT_PLAINTEXT",
    ),
];

/// The variables whose value is a secret: an error names them without quoting the value.
const SECRET_VARS: [&str; 1] = ["SESSION_ENCRYPTION_KEYS"];

/// Everything a demo needs before it can build its manager and listen.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The validated session options.
    pub options: Options,
    /// The `host:port` to listen on (`SESSION_DEMO_ADDR`, or [`DEFAULT_ADDR`]).
    pub addr: String,
}

/// Reads the process's arguments and environment; `Ok(None)` when `--help` was asked for.
///
/// See [`settings_from`] for the rules.
pub fn settings() -> anyhow::Result<Option<Settings>> {
    settings_from(std::env::args().skip(1), |var| std::env::var(var).ok())
}

/// Builds the settings from `args` (without the program name) and the environment lookup
/// `env`: options from `--config FILE` (its `[session]` section) or the defaults, then each
/// `SESSION_*` variable that is set, then validation. The environment wins over the file so a
/// deployment can change one option without editing it.
///
/// Every error names what to fix: the argument, the file, or the variable and its value.
pub fn settings_from(
    args: impl IntoIterator<Item = String>,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Option<Settings>> {
    let mut args = args.into_iter();
    let mut options = Options::default();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" => {
                let Some(path) = args.next() else {
                    bail!("--config needs a file name\n{USAGE}");
                };
                options = Options::from_file(&path)
                    .with_context(|| format!("reading session options from {path}"))?;
            }
            "-h" | "--help" => return Ok(None),
            other => bail!("unexpected argument {other:?}\n{USAGE}"),
        }
    }
    for (var, key) in ENV_OPTIONS {
        if let Some(value) = env(var) {
            options.set(key, &value).with_context(|| {
                if SECRET_VARS.contains(&var) {
                    format!("applying {var} (value not shown)")
                } else {
                    format!("applying {var}={value:?}")
                }
            })?;
        }
    }
    options.validate().context("invalid session options")?;
    let addr = env("SESSION_DEMO_ADDR").unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    Ok(Some(Settings { options, addr }))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Option<Settings>> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        settings_from(args.iter().map(|a| (*a).to_owned()), |var| {
            env.get(var).cloned()
        })
    }

    fn error(args: &[&str], env: &[(&str, &str)]) -> String {
        format!("{:#}", parse(args, env).expect_err("an error"))
    }

    #[test]
    fn defaults_without_arguments_or_environment() {
        let settings = parse(&[], &[]).unwrap().unwrap();
        assert_eq!(settings.addr, DEFAULT_ADDR);
        let defaults = Options::default();
        assert_eq!(settings.options.provider, defaults.provider);
        assert_eq!(settings.options.secure, defaults.secure);
    }

    #[test]
    fn help_is_not_an_error() {
        assert!(parse(&["--help"], &[]).unwrap().is_none());
        assert!(parse(&["-h"], &[]).unwrap().is_none());
    }

    #[test]
    fn the_environment_overrides_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("app.ini");
        std::fs::write(
            &file,
            "[session]\nPROVIDER = file\nPROVIDER_CONFIG = /tmp/from-file\nSECURE = true\n",
        )
        .unwrap();
        let path = file.to_str().unwrap();

        let settings = parse(&["--config", path], &[]).unwrap().unwrap();
        assert_eq!(settings.options.provider, "file");
        assert_eq!(settings.options.provider_config, "/tmp/from-file");
        assert!(settings.options.secure);

        let settings = parse(
            &["--config", path],
            &[
                ("SESSION_PROVIDER", "memory"),
                ("SESSION_PROVIDER_CONFIG", ""),
                ("SESSION_SECURE", "false"),
                ("SESSION_DEMO_ADDR", "127.0.0.1:0"),
            ],
        )
        .unwrap()
        .unwrap();
        assert_eq!(settings.options.provider, "memory");
        assert_eq!(settings.options.provider_config, "");
        assert!(!settings.options.secure);
        assert_eq!(settings.addr, "127.0.0.1:0");
    }

    #[test]
    fn argument_errors_say_what_is_wrong_and_show_the_usage() {
        let message = error(&["--config"], &[]);
        assert!(message.contains("--config needs a file name"), "{message}");
        assert!(message.contains(USAGE), "{message}");

        let message = error(&["--port", "80"], &[]);
        assert!(
            message.contains("unexpected argument \"--port\""),
            "{message}"
        );
        assert!(message.contains(USAGE), "{message}");
    }

    #[test]
    fn a_missing_config_file_is_named() {
        let message = error(&["--config", "/nonexistent/app.ini"], &[]);
        assert!(
            message.contains("reading session options from /nonexistent/app.ini"),
            "{message}"
        );
    }

    #[test]
    fn a_bad_environment_value_names_the_variable() {
        let message = error(&[], &[("SESSION_SECURE", "maybe")]);
        assert!(
            message.contains("applying SESSION_SECURE=\"maybe\""),
            "{message}"
        );
    }

    #[test]
    fn encryption_keys_come_from_the_environment_and_never_show_in_errors() {
        let keys = format!("2:{},1:{}", "ab".repeat(32), "cd".repeat(32));
        let settings = parse(
            &[],
            &[
                ("SESSION_ENCRYPTION_KEYS", keys.as_str()),
                ("SESSION_ENCRYPTION_ACCEPT_PLAINTEXT", "true"),
            ],
        )
        .unwrap()
        .unwrap();
        assert_eq!(settings.options.encryption_keys.current_id(), Some(2));
        assert!(settings.options.encryption_accept_plaintext);

        let bad = format!("2:{}", "ab".repeat(31));
        let message = error(&[], &[("SESSION_ENCRYPTION_KEYS", bad.as_str())]);
        assert!(message.contains("SESSION_ENCRYPTION_KEYS"), "{message}");
        assert!(!message.contains(&"ab".repeat(8)), "{message}");
    }
}
