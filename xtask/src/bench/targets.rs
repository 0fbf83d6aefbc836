//! The report's targets table: each goal, what was measured, and whether it was met.

use std::fmt::Write as _;

use super::HANDLERS;
use super::figures::{Http, Overhead};
use super::http::{FLOOR_ACTIX, FLOOR_AXUM};
use super::instructions::Instructions;
use super::report::Report;
use super::stats::PerRequest;

/// Our overhead against at most half the anchor's; when the anchor's overhead is not
/// positive, the run was too noisy to tell.
fn overhead_verdict(ours: f64, anchor: f64) -> &'static str {
    if anchor.is_nan() || anchor <= 0.0 || !ours.is_finite() {
        "inconclusive (anchor overhead not above noise)"
    } else {
        verdict(ours <= 0.5 * anchor)
    }
}

pub(super) fn verdict(ok: bool) -> &'static str {
    if ok { "**met**" } else { "**missed**" }
}

impl Report {
    /// The targets table, for the sections that ran.
    pub(super) fn targets(&self, out: &mut String) {
        out.push_str("## Targets\n\n| target | measured | verdict |\n|---|---|---|\n");
        if let Some(m) = &self.memory {
            memory_targets(m, out);
        }
        if let Some(i) = &self.instructions {
            instruction_targets(i, out);
        }
        if let Some(r) = &self.redis {
            redis_targets(r, out);
        }
        if let Some(c) = &self.cluster {
            c.targets(out);
        }
        if let Some(sql) = &self.sql {
            sql.targets(out);
        }
        if let Some(s) = &self.scale {
            let (p99, gc99) = (s.ours("p99_us"), s.ours("gc_p99_us"));
            let _ = writeln!(
                out,
                "| scale: p99 during GC ≤ 2x p99 without | {gc99:.2} µs vs {p99:.2} µs = {:.2}x | {} |",
                gc99 / p99,
                verdict(gc99 <= 2.0 * p99)
            );
            let (ours, ts) = (s.ours("bytes_per_session"), s.ts("bytes_per_session"));
            let _ = writeln!(
                out,
                "| scale: bytes/session ≤ tower-sessions MemoryStore | {ours:.0} vs {ts:.0} | {} |",
                verdict(ours <= ts)
            );
        }
        out.push('\n');
    }
}

/// The row "memory /`h`: our overhead ≤ 0.5x tower-sessions'" by one `measure`, the two
/// overheads shown with `decimals` and `unit`.
fn half_overhead_row(
    out: &mut String,
    h: &str,
    measure: &str,
    (ours, ts): (f64, f64),
    unit: &str,
    decimals: usize,
) {
    let _ = writeln!(
        out,
        "| memory /{h}: overhead ≤ 0.5x tower-sessions' ({measure}) | {ours:.decimals$} {unit} vs {ts:.decimals$} {unit} = {:.2}x | {} |",
        ours / ts,
        overhead_verdict(ours, ts)
    );
}

fn memory_targets(m: &Http, out: &mut String) {
    let measures: [(&str, Overhead); 2] = [
        ("wall time from req/s", Http::overhead_us),
        ("server CPU per request", Http::cpu_overhead_us),
    ];
    for h in ["read", "write"] {
        for (measure, overhead) in measures {
            let ours = overhead(m, "ours", "none", h);
            let ts = overhead(m, "ts-0.15", "none", h);
            half_overhead_row(out, h, measure, (ours, ts), "µs", 2);
        }
    }
    let cpu = m.cpu("ours", "untouched") / m.cpu("none", "untouched");
    let _ = writeln!(
        out,
        "| memory /untouched within 5% of no layer (server CPU per request) | {cpu:.3}x the no-layer CPU | {} |",
        verdict(cpu <= 1.05)
    );
    let ratio = m.get("ours", "untouched") / m.get("none", "untouched");
    let _ = writeln!(
        out,
        "| memory /untouched within 5% of no layer | {ratio:.3}x the no-layer rate | {} |",
        verdict(ratio >= 0.95)
    );
}

fn instruction_targets(i: &Instructions, out: &mut String) {
    for h in ["read", "write"] {
        let overheads = (i.overhead("ours", h), i.overhead("ts-0.15", h));
        let measure = "user-space instructions, callgrind";
        half_overhead_row(out, h, measure, overheads, "instructions", 0);
    }
    let ratio = i.get("ours", "untouched") / i.get("none", "untouched");
    let floor = i.get("floor", "untouched") / i.get("none", "untouched");
    let _ = writeln!(
        out,
        "| memory /untouched within 5% of no layer (user-space instructions, callgrind) | {ratio:.3}x the no-layer count; the floor of any axum session layer: {floor:.3}x | {} |",
        verdict(ratio <= 1.05)
    );
}

fn redis_targets(r: &Http, out: &mut String) {
    for (h, limit) in [("untouched", 0.0), ("read", 1.0), ("write", 2.0)] {
        for (what, counts, note) in [
            ("commands/request", &r.commands, ""),
            ("round trips/request", &r.trips, " (supplementary)"),
        ] {
            let total = |c: &str| {
                counts
                    .get(&(c.to_owned(), h.to_owned()))
                    .map_or(f64::NAN, PerRequest::total)
            };
            let ours = total("ours");
            let best = total("ts-0.14").min(total("actix-0.11"));
            let _ = writeln!(
                out,
                "| redis /{h}: {what} ≤ best anchor and ≤ {limit}{note} | ours {ours:.2}, best anchor {best:.2} | {} |",
                verdict(ours <= best + 0.01 && ours <= limit + 0.01)
            );
        }
    }
    for h in HANDLERS {
        let best = r.get("ts-0.14", h).max(r.get("actix-0.11", h));
        let ours = r.get("ours", h).max(r.get("ours-actix", h));
        let ratio = ours / best;
        let _ = writeln!(
            out,
            "| redis /{h}: req/s ≥ 1.1x the faster anchor (our faster adapter vs the faster anchor, any framework) | {ratio:.2}x | {} |",
            verdict(ratio >= 1.1)
        );
        let axum = r.get("ours", h) / r.get("ts-0.14", h);
        if h == "write" {
            let axum = r.backend_cpu("ours", h) / r.backend_cpu("ts-0.14", h);
            let actix = r.backend_cpu("ours-actix", h) / r.backend_cpu("actix-0.11", h);
            let _ = writeln!(
                out,
                "| redis /write: Redis CPU per request ≤ 1.2x the anchor's on the same framework | axum {axum:.2}x, actix-web {actix:.2}x | {} |",
                verdict(axum <= 1.2 && actix <= 1.2)
            );
        }
        let actix = r.get("ours-actix", h) / r.get("actix-0.11", h);
        let floors = if h == "read" {
            format!(
                " (bare-`GET` floor, no session layer: {:.2}x, {:.2}x)",
                r.get(FLOOR_AXUM, h) / r.get("ts-0.14", h),
                r.get(FLOOR_ACTIX, h) / r.get("actix-0.11", h)
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "| redis /{h}: req/s ≥ 1.1x the anchor on the same framework | axum {axum:.2}x, actix-web {actix:.2}x{floors} | {} |",
            verdict(axum >= 1.1 && actix >= 1.1)
        );
    }
    near_cache_targets(r, out);
}

/// The near cache's rows: a cached `/read` sends Redis nothing, and serves at least 1.5x
/// the anchor's requests per second on the same framework.
fn near_cache_targets(r: &Http, out: &mut String) {
    let commands = |c: &str| {
        r.commands
            .get(&(c.to_owned(), "read".to_owned()))
            .map_or(f64::NAN, PerRequest::total)
    };
    let (axum, actix) = (commands("ours-near"), commands("ours-actix-near"));
    let _ = writeln!(
        out,
        "| redis /read with the near cache: 0 commands/request (every session cached before the run) | axum {axum:.2}, actix-web {actix:.2} | {} |",
        // Under half a command in a hundred requests prints as 0.00.
        verdict(axum < 0.005 && actix < 0.005)
    );
    let axum = r.get("ours-near", "read") / r.get("ts-0.14", "read");
    let actix = r.get("ours-actix-near", "read") / r.get("actix-0.11", "read");
    // The rate with no session layer at all bounds what any cache can show in req/s.
    let ceiling_axum = r.get("none-axum", "read") / r.get("ts-0.14", "read");
    let ceiling_actix = r.get("none-actix", "read") / r.get("actix-0.11", "read");
    let _ = writeln!(
        out,
        "| redis /read with the near cache: req/s ≥ 1.5x the anchor on the same framework | axum {axum:.2}x, actix-web {actix:.2}x (no session layer: {ceiling_axum:.2}x, {ceiling_actix:.2}x) | {} |",
        verdict(axum >= 1.5 && actix >= 1.5)
    );
}
