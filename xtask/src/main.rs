//! Project tasks: `cargo xtask test | ci | conformance | services`.
//!
//! - `test`: fmt check, clippy with `-D warnings`, every test (nextest, then doctests),
//!   `cargo doc` with `-D warnings`, the conformance matrix and a short run of every fuzz
//!   target. It first makes sure the services the tests need are listening.
//! - `ci`: `test` with `CI=true`, where a provider test that cannot reach its server fails.
//! - `conformance [--provider NAME --config STR]`: the provider x case matrix.
//! - `fuzz [--seconds N]`: a libFuzzer run of every fuzz target (`test` runs each for 10 s).
//! - `bench [--quick]`: the benchmarks of `bench/`, written to `BENCHMARKS.md` (never part of
//!   `test`).
//! - `services`: only make sure the test services are up.

mod bench;
mod conformance;
mod fuzz;
mod redis_cluster;
mod services;

use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

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
    let (task, rest) = args
        .split_first()
        .map_or(("", &[][..]), |(t, r)| (t.as_str(), r));
    match task {
        "test" => test(),
        "ci" => {
            set_ci();
            test()
        }
        "bench" => bench::main(rest),
        "conformance" => conformance::main(rest),
        "fuzz" => fuzz::main(rest),
        "services" => services::ensure_all(),
        _ => {
            eprintln!(
                "usage: cargo xtask <task>\n\n  test          fmt, clippy, all tests, conformance matrix\n  ci            test under CI settings (CI=true)\n  conformance   [--provider NAME --config STR] provider x case matrix\n  fuzz          [--seconds N] run every fuzz target\n  bench         [--quick] benchmarks against the anchors, writes BENCHMARKS.md\n  services      start the services the tests need"
            );
            bail!("unknown task {task:?}")
        }
    }
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
    let runtime = conformance::runtime()?;
    let (targets, services) = conformance::default_targets(&runtime)?;
    conformance::matrix(&runtime, &targets)?;
    {
        let _in_runtime = runtime.enter();
        drop(services);
    }
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
