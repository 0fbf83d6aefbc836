//! The HTTP figures of one section (medians by contender and handler) and their tables.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::HANDLERS;
use super::stats::{PerRequest, median};
use super::wrk::Runs;

/// Values by (contender, handler).
type ByKey<T> = BTreeMap<(String, String), T>;

/// One of [`Http::overhead_us`] and [`Http::cpu_overhead_us`]: (contender, baseline, handler)
/// to µs per request.
pub(super) type Overhead = fn(&Http, &str, &str, &str) -> f64;

/// The HTTP figures of one section: medians by (contender, handler).
#[derive(Debug, Default)]
pub(super) struct Http {
    rps: ByKey<f64>,
    /// Median server CPU µs per request.
    cpu: ByKey<f64>,
    /// Median CPU µs per request of the store's server (Redis, the database), where measured.
    backend_cpu: ByKey<f64>,
    runs: ByKey<Vec<f64>>,
    errors: ByKey<u64>,
    /// Redis: commands per request, the median run's breakdown.
    pub(super) commands: ByKey<PerRequest>,
    /// Redis: client round trips per request (commands sent, not run by scripts).
    pub(super) trips: ByKey<PerRequest>,
    pub(super) contenders: Vec<String>,
}

/// The ratio of two CPU times per request, or "–" when either is under 0.5 µs: a contender
/// that makes no call to the store leaves only the noise of the store's idle work there.
pub(super) fn cpu_ratio(ours: f64, anchor: f64) -> String {
    if ours >= 0.5 && anchor >= 0.5 {
        format!("{:.2}x", ours / anchor)
    } else {
        "–".to_owned()
    }
}

fn key(contender: &str, handler: &str) -> (String, String) {
    (contender.to_owned(), handler.to_owned())
}

impl Http {
    pub(super) fn from_runs(runs: Runs) -> Self {
        let mut http = Http::default();
        for (key, list) in runs {
            if !http.contenders.contains(&key.0) {
                http.contenders.push(key.0.clone());
            }
            let values: Vec<f64> = list.iter().map(|w| w.rps).collect();
            let cpu: Vec<f64> = list.iter().map(|w| w.cpu_us).collect();
            let backend: Vec<f64> = list.iter().map(|w| w.backend_cpu_us).collect();
            http.cpu.insert(key.clone(), median(&cpu));
            http.backend_cpu.insert(key.clone(), median(&backend));
            http.rps.insert(key.clone(), median(&values));
            http.errors
                .insert(key.clone(), list.iter().map(|w| w.errors).sum());
            http.runs.insert(key, values);
        }
        http
    }

    /// Keeps, per (contender, handler), the run with the median total.
    pub(super) fn with_commands(mut self, commands: ByKey<Vec<PerRequest>>) -> Self {
        for (key, mut list) in commands {
            list.sort_by(|a, b| a.total().total_cmp(&b.total()));
            if let Some(mid) = list.get(list.len() / 2) {
                self.commands.insert(key, mid.clone());
            }
        }
        self
    }

    /// Median requests per second.
    pub(super) fn get(&self, contender: &str, handler: &str) -> f64 {
        self.rps
            .get(&key(contender, handler))
            .copied()
            .unwrap_or(f64::NAN)
    }

    /// Median server CPU time per request, µs.
    pub(super) fn cpu(&self, contender: &str, handler: &str) -> f64 {
        self.cpu
            .get(&key(contender, handler))
            .copied()
            .unwrap_or(f64::NAN)
    }

    /// Median CPU time per request of the store's server (Redis, the database), µs; NaN when
    /// the section did not measure it.
    pub(super) fn backend_cpu(&self, contender: &str, handler: &str) -> f64 {
        self.backend_cpu
            .get(&key(contender, handler))
            .copied()
            .unwrap_or(f64::NAN)
    }

    /// Server CPU per request minus the baseline's, in µs.
    pub(super) fn cpu_overhead_us(&self, contender: &str, base: &str, handler: &str) -> f64 {
        self.cpu(contender, handler) - self.cpu(base, handler)
    }

    /// Time per request minus the baseline's, in µs.
    pub(super) fn overhead_us(&self, contender: &str, base: &str, handler: &str) -> f64 {
        (1.0 / self.get(contender, handler) - 1.0 / self.get(base, handler)) * 1e6
    }

    /// The req/s table, the CPU table and every run; with a `baseline`, each table also
    /// has every other contender's overhead over it.
    pub(super) fn table(&self, out: &mut String, baseline: Option<&str>) {
        self.grid(
            out,
            baseline,
            [" req/s", " overhead µs/req"],
            |c, h| {
                let errors = self.errors.get(&key(c, h)).copied().unwrap_or(0);
                let flag = if errors > 0 {
                    format!(" ({errors} errors)")
                } else {
                    String::new()
                };
                dash_if_nan(self.get(c, h), 0) + &flag
            },
            Self::overhead_us,
        );
        out.push_str("\nServer CPU time per request (µs, median; all server threads, from `/proc/<pid>/task/*/schedstat`), less sensitive to other load on the machine than req/s:\n\n");
        self.grid(
            out,
            baseline,
            ["", " CPU overhead"],
            |c, h| dash_if_nan(self.cpu(c, h), 2),
            Self::cpu_overhead_us,
        );
        out.push_str("\nAll runs (req/s), in order:\n\n");
        for ((c, h), runs) in &self.runs {
            let list: Vec<String> = runs.iter().map(|r| format!("{r:.0}")).collect();
            let _ = writeln!(out, "- {c} /{h}: {}", list.join(", "));
        }
        out.push('\n');
    }

    /// One table, a row per handler: a column per contender (`cell`), then, with a
    /// `baseline`, one per other contender (`overhead`). `suffixes` end the two kinds of
    /// column title.
    fn grid(
        &self,
        out: &mut String,
        baseline: Option<&str>,
        suffixes: [&str; 2],
        cell: impl Fn(&str, &str) -> String,
        overhead: Overhead,
    ) {
        let others: Vec<(&str, &str)> = baseline.map_or_else(Vec::new, |base| {
            self.contenders
                .iter()
                .filter(|c| *c != base)
                .map(|c| (c.as_str(), base))
                .collect()
        });
        let _ = write!(out, "| handler |");
        for c in &self.contenders {
            let _ = write!(out, " {c}{} |", suffixes[0]);
        }
        for (c, _) in &others {
            let _ = write!(out, " {c}{} |", suffixes[1]);
        }
        out.push('\n');
        let cols = self.contenders.len() + others.len();
        let _ = writeln!(out, "|---|{}", "---:|".repeat(cols));
        for h in HANDLERS {
            let _ = write!(out, "| {h} |");
            for c in &self.contenders {
                let _ = write!(out, " {} |", cell(c, h));
            }
            for (c, base) in &others {
                let _ = write!(out, " {} |", dash_if_nan(overhead(self, c, base, h), 2));
            }
            out.push('\n');
        }
    }
}

/// `value` with `decimals` decimals, or `–` where a contender has no figure (a floor
/// contender is measured on `/read` only).
fn dash_if_nan(value: f64, decimals: usize) -> String {
    if value.is_nan() {
        "–".to_owned()
    } else {
        format!("{value:.decimals$}")
    }
}
