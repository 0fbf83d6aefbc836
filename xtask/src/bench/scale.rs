//! The scale section: the memory provider holding 1,000,000 sessions (RSS per session, GC
//! time, latency during GC), and tower-sessions' `MemoryStore` for bytes per session.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;

use anyhow::Result;

use super::Bench;
use super::plan::Plan;
use super::process::run_lines;
use super::report::Report;
use super::stats::median;

/// Every value the `scale` binary printed, by name, one per process (or GC round).
#[derive(Debug, Default)]
pub(super) struct Scale {
    ours: BTreeMap<String, Vec<f64>>,
    ts: BTreeMap<String, Vec<f64>>,
}

impl Bench {
    pub(super) fn scale(&self, report: &mut Report) -> Result<()> {
        self.build(&["scale"])?;
        let n = self.plan.scale_sessions.to_string();
        let mut scale = Scale::default();
        let collect = |into: &mut BTreeMap<String, Vec<f64>>, lines: Vec<(String, f64)>| {
            for (key, value) in lines {
                into.entry(key).or_default().push(value);
            }
        };
        for _ in 0..self.plan.scale_processes {
            let ours = run_lines(
                Command::new(self.binary("scale"))
                    .args(["ours", &n])
                    .arg(self.plan.scale_rounds.to_string()),
            )?;
            collect(&mut scale.ours, ours);
            let ts = run_lines(Command::new(self.binary("scale")).args(["ts", &n]))?;
            collect(&mut scale.ts, ts);
        }
        report.scale = Some(scale);
        Ok(())
    }
}

impl Scale {
    /// The median of our figure `key`.
    pub(super) fn ours(&self, key: &str) -> f64 {
        self.ours.get(key).map_or(f64::NAN, |v| median(v))
    }

    /// The median of tower-sessions' figure `key`.
    pub(super) fn ts(&self, key: &str) -> f64 {
        self.ts.get(key).map_or(f64::NAN, |v| median(v))
    }

    /// The report's scale section.
    pub(super) fn markdown(&self, out: &mut String, plan: &Plan) {
        let _ = writeln!(
            out,
            "## Memory provider at scale\n\n{} sessions, each holding one 100-byte string, created through the public API in a fresh process. \
             Bytes per session = (RSS after − RSS before) / sessions from `/proc/self/statm`. GC: one pass removing half of them (expired by a mock clock). \
             Latency: `Manager::load` + `get` + `commit` on 10,000 live sessions in a loop, without GC (2 s) and while the GC pass runs on another worker thread \
             (tokio, 2 workers). Medians over {} process(es) x {} GC round(s).\n",
            plan.scale_sessions, plan.scale_processes, plan.scale_rounds
        );
        out.push_str("| figure | ours (memory provider) | tower-sessions 0.15 MemoryStore |\n|---|---:|---:|\n");
        let bytes_ts = format!("{:.0}", self.ts("bytes_per_session"));
        // (figure, key, decimals, tower-sessions' column)
        let rows = [
            (
                "bytes per session (RSS)",
                "bytes_per_session",
                0,
                bytes_ts.as_str(),
            ),
            (
                "GC pass removing half (ms)",
                "gc_ms",
                1,
                "no GC (entries are never removed)",
            ),
            ("latency p50 without GC (µs)", "p50_us", 2, "–"),
            ("latency p99 without GC (µs)", "p99_us", 2, "–"),
            ("latency p50 during GC (µs)", "gc_p50_us", 2, "–"),
            ("latency p99 during GC (µs)", "gc_p99_us", 2, "–"),
            ("requests measured during one GC pass", "gc_samples", 0, "–"),
        ];
        for (figure, key, decimals, ts) in rows {
            let _ = writeln!(out, "| {figure} | {:.*} | {ts} |", decimals, self.ours(key));
        }
        out.push_str("\nAll values:\n\n");
        for (who, map) in [("ours", &self.ours), ("ts", &self.ts)] {
            for (k, v) in map {
                let list: Vec<String> = v.iter().map(|x| format!("{x:.2}")).collect();
                let _ = writeln!(out, "- {who} {k}: {}", list.join(", "));
            }
        }
        out.push('\n');
    }
}
