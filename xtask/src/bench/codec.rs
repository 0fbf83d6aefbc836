//! The codec section: criterion timings of our record format against the others.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::Bench;
use super::process::run_lines;
use super::report::Report;

/// One row per format, ours first.
#[derive(Debug, Default)]
pub(super) struct Codec {
    /// (format, bytes, encode ns, decode ns)
    rows: Vec<(String, f64, f64, f64)>,
}

impl Bench {
    pub(super) fn codec(&self, report: &mut Report) -> Result<()> {
        self.build(&["codec"])?;
        let sizes = run_lines(&mut Command::new(self.binary("codec")))?;
        let mut cmd = self.cargo_in_bench("bench");
        cmd.args([
            "-p",
            "codec",
            "--bench",
            "codec",
            "--",
            "--warm-up-time",
            "1",
        ])
        .args(["--measurement-time", &self.plan.criterion_secs.to_string()])
        .args(["--noplot"]);
        eprintln!("bench: criterion");
        if !cmd.status().context("cannot run cargo bench")?.success() {
            bail!("cargo bench -p codec failed");
        }
        let mut codec = Codec::default();
        for (key, size) in sizes {
            let Some(name) = key.strip_prefix("size_") else {
                continue;
            };
            let mut times = [f64::NAN; 2];
            for (i, op) in ["encode", "decode"].iter().enumerate() {
                let file = self
                    .dir
                    .join("target/criterion")
                    .join(format!("{op}_{name}"))
                    .join("new/estimates.json");
                times[i] = criterion_median(&file)?;
            }
            codec.rows.push((name.to_owned(), size, times[0], times[1]));
        }
        report.codec = Some(codec);
        Ok(())
    }
}

impl Codec {
    /// The report's codec section.
    pub(super) fn markdown(&self, out: &mut String) {
        out.push_str("## Codec\n\nCriterion (median), a 10-key session (integers, strings, a list of strings, a list of integers, a bool, a nested struct). \
            Encode: typed values to the bytes a store writes; decode: bytes to all ten typed values.\n\n\
            | format | bytes | encode ns | decode ns | encode vs ours | decode vs ours |\n|---|---:|---:|---:|---:|---:|\n");
        let ours = self
            .rows
            .first()
            .map_or((f64::NAN, f64::NAN), |r| (r.2, r.3));
        for (name, size, enc, dec) in &self.rows {
            let _ = writeln!(
                out,
                "| {name} | {size:.0} | {enc:.0} | {dec:.0} | {:.2}x | {:.2}x |",
                enc / ours.0,
                dec / ours.1
            );
        }
        out.push_str("\n`ours_rmp_per_value` is session-core's format (`record.rs`). `postcard_per_value` has the same layout but is not self-describing (a `serde_json::Value` could not be stored); `serde_json_value` is actix-session's style; `tower_sessions_rmp_json_value` is tower-sessions' (rmp-serde of the whole record with `serde_json::Value`s).\n\n");
    }
}

/// The median estimate (ns) from a criterion `estimates.json`.
fn criterion_median(path: &Path) -> Result<f64> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let median = text
        .find("\"median\"")
        .context("no median in criterion estimates")?;
    let rest = &text[median..];
    let at = rest
        .find("\"point_estimate\":")
        .context("no point_estimate")?;
    let number: String = rest[at + 17..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        .collect();
    Ok(number.parse()?)
}
