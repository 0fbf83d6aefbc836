//! `cargo xtask fuzz [--seconds N]`: a short libFuzzer run of every target in `fuzz/`.
//!
//! The targets live in their own workspace (`fuzz/`), built by cargo-fuzz with sanitizer
//! flags; `RUSTC_BOOTSTRAP=1` lets the stable toolchain accept those flags. cargo-fuzz is
//! installed from crates.io when missing. Seed corpora are committed under
//! `fuzz/corpus/<target>/seed-*`; what a run adds stays local (git-ignored).

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::workspace_root;

/// What `cargo xtask fuzz --help` prints.
pub const HELP: &str = "\
usage: cargo xtask fuzz [--seconds N]

Runs every cargo-fuzz target of fuzz/ (cookie_header, session_id, record_decode,
options_config) for the same time each, one unoptimised build shared by all; installs
cargo-fuzz from crates.io when it is missing. Fails on the first target that finds a
failure (its input is kept under fuzz/artifacts/TARGET/). `cargo xtask test` runs each target
for 10 s.

options:
  --seconds N   how long each target runs (default 60)
  -h, --help    this text";

/// Fuzz targets, each run for the same time budget.
const TARGETS: &[&str] = &[
    "cookie_header",
    "session_id",
    "record_decode",
    "options_config",
];

fn has_cargo_fuzz() -> bool {
    Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs every target for `seconds`.
pub fn run(seconds: u32) -> Result<()> {
    if !has_cargo_fuzz() {
        crate::cargo(&["install", "cargo-fuzz", "--locked"])?;
    }
    let dir = workspace_root().join("fuzz");
    for target in TARGETS {
        eprintln!("xtask: fuzzing {target} for {seconds} s");
        let status = Command::new("cargo")
            // `--dev`: one unoptimised build shared by every target; these runs are short, and
            // an optimised build of the providers' dependencies would cost CI minutes.
            .args(["fuzz", "run", "--dev", target, "--"])
            .arg(format!("-max_total_time={seconds}"))
            .args([
                "-rss_limit_mb=1024",
                "-malloc_limit_mb=256",
                "-print_final_stats=1",
            ])
            .env("RUSTC_BOOTSTRAP", "1")
            .current_dir(&dir)
            .status()
            .with_context(|| format!("cannot run cargo fuzz for {target}"))?;
        if !status.success() {
            bail!("fuzz target {target} found a failure (see fuzz/artifacts/{target}/)");
        }
    }
    Ok(())
}

/// `cargo xtask fuzz [--seconds N]`.
pub fn main(args: &[String]) -> Result<()> {
    let mut seconds = 60;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => {
                seconds = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .context("--seconds needs a number")?;
            }
            other => bail!("unknown argument {other:?}\n\n{HELP}"),
        }
    }
    run(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_names_every_target() {
        for target in TARGETS {
            assert!(HELP.contains(target), "{target} missing from:\n{HELP}");
        }
    }
}
