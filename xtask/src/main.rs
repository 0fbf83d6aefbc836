//! Project tasks: `cargo xtask <task> [options]`; `cargo xtask --help` lists the tasks and
//! `cargo xtask <task> --help` explains one.
//!
//! - `test`: fmt check, clippy with `-D warnings`, every test (nextest, then doctests),
//!   `cargo doc` with `-D warnings`, the conformance matrix, the browser run and a short run
//!   of every fuzz target. It first makes sure the services the tests need are listening.
//! - `ci`: `test` with `CI=true`, where a provider test that cannot reach its server fails.
//! - `conformance [--provider NAME [--config STR]]`: the provider x case matrix, after
//!   starting what the chosen providers need.
//! - `fuzz [--seconds N]`: a libFuzzer run of every fuzz target (`test` runs each for 10 s).
//! - `bench [--quick] [--only SECTION,...]`: the benchmarks of `bench/`, written to
//!   `BENCHMARKS.md` (never part of `test`); installs the tools it runs.
//! - `browser`: the demos' `/app` pages driven in headless Chromium (Debian's `chromium`
//!   and `chromium-driver`, installed when missing); part of `test`.
//! - `services`: only make sure the test services are up.

mod bench;
mod browser;
mod conformance;
mod fuzz;
mod services;

use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

/// One task: its name, its line in the task list, its help text and what runs it.
struct Task {
    name: &'static str,
    summary: &'static str,
    help: &'static str,
    run: fn(&[String]) -> Result<()>,
}

const TASKS: &[Task] = &[
    Task {
        name: "test",
        summary: "fmt, clippy, every test, docs, conformance matrix, fuzzing",
        help: TEST_HELP,
        run: |args| {
            no_arguments("test", args)?;
            test()
        },
    },
    Task {
        name: "ci",
        summary: "test under CI settings (CI=true: unreachable servers fail)",
        help: CI_HELP,
        run: |args| {
            no_arguments("ci", args)?;
            set_ci();
            test()
        },
    },
    Task {
        name: "conformance",
        summary: "the provider x case matrix (starts the services it needs)",
        help: conformance::HELP,
        run: conformance::main,
    },
    Task {
        name: "fuzz",
        summary: "run every fuzz target",
        help: fuzz::HELP,
        run: fuzz::main,
    },
    Task {
        name: "bench",
        summary: "benchmarks against the anchors, written to BENCHMARKS.md",
        help: bench::HELP,
        run: bench::main,
    },
    Task {
        name: "browser",
        summary: "the demos' /app pages in headless Chromium",
        help: browser::HELP,
        run: browser::main,
    },
    Task {
        name: "services",
        summary: "start the services the tests need",
        help: SERVICES_HELP,
        run: |args| {
            no_arguments("services", args)?;
            services::ensure_all()
        },
    },
];

const TEST_HELP: &str = "\
usage: cargo xtask test

Checks formatting (cargo fmt --check), runs clippy with -D warnings, every test (cargo
nextest when installed, else cargo test; then doctests), cargo doc with -D warnings, the
conformance matrix (see `cargo xtask conformance --help`), the demos' /app pages in headless
Chromium (see `cargo xtask browser --help`) and every fuzz target for 10 s.

First makes sure the test services listen on their standard loopback ports (Redis 6379,
memcached 11211, PostgreSQL 5432, MariaDB 3306) and that redis-server, redis-cli and
memcached are installed: a service that is installed but not running is started, a missing
one is installed with apt when run as root on Debian, and otherwise the task stops with a
message naming what to install. Set CI=true (or use `cargo xtask ci`) to make a provider test
that cannot reach its server fail.

options:
  -h, --help   this text";

const CI_HELP: &str = "\
usage: cargo xtask ci

`cargo xtask test` with CI=true passed to every step, so a provider test that cannot reach
its server fails instead of reporting why it could not run. This is what .ci/run runs.

options:
  -h, --help   this text";

const SERVICES_HELP: &str = "\
usage: cargo xtask services

Only makes sure the test services listen (Redis 6379, memcached 11211, PostgreSQL 5432,
MariaDB 3306 on 127.0.0.1) and that redis-server, redis-cli and memcached are installed,
starting or installing (apt, as root on Debian) what is missing.

options:
  -h, --help   this text";

/// The task list, for `cargo xtask --help` and after an unknown task.
fn usage() -> String {
    let mut text = String::from("usage: cargo xtask <task> [options]\n\ntasks:\n");
    for task in TASKS {
        text.push_str(&format!("  {:<13} {}\n", task.name, task.summary));
    }
    text.push_str("\n`cargo xtask <task> --help` describes a task and its options.");
    text
}

/// Prints help text to stdout; a closed pipe (`cargo xtask --help | head`) is not an error.
fn print_help(text: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

fn is_help(arg: &str) -> bool {
    matches!(arg, "-h" | "--help")
}

fn no_arguments(task: &str, args: &[String]) -> Result<()> {
    match args.first() {
        Some(arg) => {
            bail!("{task} takes no arguments, got {arg:?} (see `cargo xtask {task} --help`)")
        }
        None => Ok(()),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((name, rest)) = args.split_first() else {
        eprintln!("{}", usage());
        bail!("no task given");
    };
    if is_help(name) || name == "help" {
        print_help(&usage());
        return Ok(());
    }
    let Some(task) = TASKS.iter().find(|t| t.name == name) else {
        eprintln!("{}", usage());
        bail!("unknown task {name:?}");
    };
    if rest.iter().any(|arg| is_help(arg)) {
        print_help(task.help);
        return Ok(());
    }
    (task.run)(rest)
}

/// Marks this run as CI. `std::env::set_var` is unsafe in edition 2024, so the flag lives
/// here and [`cargo`] passes `CI=true` to every child process.
fn set_ci() {
    CI.store(true, std::sync::atomic::Ordering::SeqCst);
}

static CI: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether this run has CI settings (`cargo xtask ci` or `CI=true` in the environment).
pub fn is_ci() -> bool {
    CI.load(std::sync::atomic::Ordering::SeqCst)
        || std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn test() -> Result<()> {
    services::ensure_all()?;
    cargo(&["fmt", "--all", "--", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    if has_nextest() {
        cargo(&["nextest", "run", "--workspace", "--no-fail-fast"])?;
    } else {
        cargo(&[
            "test",
            "--workspace",
            "--no-fail-fast",
            "--lib",
            "--bins",
            "--tests",
            "--examples",
        ])?;
    }
    cargo(&["test", "--workspace", "--doc"])?;
    cargo_with_env(
        &["doc", "--workspace", "--no-deps"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    conformance::run(None)?;
    browser::run()?;
    fuzz::run(10)
}

fn has_nextest() -> bool {
    Command::new("cargo")
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs `cargo <args>` in the workspace root, failing on a non-zero exit.
pub fn cargo(args: &[&str]) -> Result<()> {
    cargo_with_env(args, &[])
}

/// [`cargo`] with extra environment variables.
pub fn cargo_with_env(args: &[&str], env: &[(&str, &str)]) -> Result<()> {
    eprintln!("xtask: cargo {}", args.join(" "));
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(args)
        .envs(env.iter().copied())
        .current_dir(workspace_root());
    if is_ci() {
        cmd.env("CI", "true");
    }
    let status = cmd
        .status()
        .with_context(|| format!("cannot run cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> std::path::PathBuf {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_task_list_names_every_task() {
        let usage = usage();
        for task in TASKS {
            assert!(usage.contains(task.name), "{usage}");
        }
    }

    #[test]
    fn every_task_help_starts_with_its_usage_and_documents_help() {
        for task in TASKS {
            assert!(
                task.help
                    .starts_with(&format!("usage: cargo xtask {}", task.name)),
                "{}",
                task.help
            );
            assert!(task.help.contains("-h, --help"), "{}", task.help);
        }
    }

    #[test]
    fn every_option_a_task_accepts_is_in_its_help() {
        for (help, options) in [
            (conformance::HELP, &["--provider", "--config"][..]),
            (fuzz::HELP, &["--seconds"]),
            (bench::HELP, &["--quick", "--only"]),
        ] {
            for option in options {
                assert!(help.contains(option), "{option} missing from:\n{help}");
            }
        }
    }

    #[test]
    fn tasks_without_options_refuse_arguments() {
        let error = no_arguments("test", &["--quick".to_owned()]).unwrap_err();
        assert!(error.to_string().contains("\"--quick\""), "{error}");
        assert!(no_arguments("test", &[]).is_ok());
    }
}
