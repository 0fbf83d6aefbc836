//! The HTTP sections: `memory` (our memory provider against tower-sessions' `MemoryStore`)
//! and `redis` (our redis provider on two frameworks against each framework's usual store).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use std::path::PathBuf;

use anyhow::{Result, bail};

use super::client::get_each;
use super::figures::{Http, cpu_ratio};
use super::plan::Plan;
use super::redis::{redis_cli, redis_commandstats, redis_cpu_us};
use super::report::Report;
use super::stats::PerRequest;
use super::wrk::{is_floor, serves};
use super::{Bench, HANDLERS, REDIS_PORT, SESSIONS};
use crate::services::{REDIS_TOOLS, ensure_tools};

impl Bench {
    pub(super) fn memory(&self, report: &mut Report) -> Result<()> {
        self.build(&["srv-memory"])?;
        let (p_none, p_ours, p_ts, p_enc) = (18101, 18102, 18103, 18104);
        let _none = self.server("srv-memory", &["none".into(), p_none.to_string()], p_none)?;
        let _ours = self.server("srv-memory", &["ours".into(), p_ours.to_string()], p_ours)?;
        let _ts = self.server("srv-memory", &["ts".into(), p_ts.to_string()], p_ts)?;
        let _enc = self.server("srv-memory", &["ours-enc".into(), p_enc.to_string()], p_enc)?;
        let ours_cookies = self.seed(p_ours, "memory-ours.cookies")?;
        let ts_cookies = self.seed(p_ts, "memory-ts.cookies")?;
        let contenders = [
            ("none", p_none, ours_cookies.clone()),
            ("ours", p_ours, ours_cookies),
            ("ts-0.15", p_ts, ts_cookies),
            (
                "ours-enc",
                p_enc,
                self.seed(p_enc, "memory-ours-enc.cookies")?,
            ),
        ];
        let results = self.rounds(&contenders, |_, _, run| run())?;
        report.memory = Some(Http::from_runs(results));
        Ok(())
    }

    pub(super) fn redis(&self, report: &mut Report) -> Result<()> {
        ensure_tools(REDIS_TOOLS)?;
        self.build(&[
            "srv-memory",
            "srv-redis-ours",
            "srv-redis-ts",
            "srv-redis-actix",
        ])?;
        let _redis = self.private_redis()?;
        let url = format!("redis://127.0.0.1:{REDIS_PORT}");
        let config = format!("addr=127.0.0.1:{REDIS_PORT}");
        let (p_none, p_ours, p_ts) = (18110, 18111, 18112);
        let (p_ax_none, p_ax_ours, p_ax) = (18113, 18114, 18115);
        // The axum baseline comes from the same binary (and build) as our axum contender.
        let _none = self.server(
            "srv-redis-ours",
            &[p_none.to_string(), "none".into()],
            p_none,
        )?;
        let _ours = self.server(
            "srv-redis-ours",
            &[p_ours.to_string(), config.clone()],
            p_ours,
        )?;
        let p_enc = 18116;
        let _enc = self.server(
            "srv-redis-ours",
            &[p_enc.to_string(), config.clone(), "enc".into()],
            p_enc,
        )?;
        let _ts = self.server("srv-redis-ts", &[p_ts.to_string(), url.clone()], p_ts)?;
        let actix = |mode: &str, port: u16, target: &str| {
            self.server(
                "srv-redis-actix",
                &[mode.to_owned(), port.to_string(), target.to_owned()],
                port,
            )
        };
        let _ax_none = actix("none", p_ax_none, &url)?;
        let _ax_ours = actix("ours", p_ax_ours, &config)?;
        let _ax = actix("actix-session", p_ax, &url)?;
        // The same servers with the near cache on, large enough for every seeded session.
        let near_config = format!("{config},near_cache={SESSIONS}");
        let (p_near, p_ax_near) = (18117, 18118);
        let _near = self.server(
            "srv-redis-ours",
            &[p_near.to_string(), near_config.clone()],
            p_near,
        )?;
        let _ax_near = actix("ours", p_ax_near, &near_config)?;
        // One bare `GET` per /read through the client our provider uses: the floor under
        // any session layer built on it (`bench_common::redis_floor`).
        let (p_floor, p_ax_floor) = (18119, 18120);
        let _floor = self.server(
            "srv-redis-ours",
            &[p_floor.to_string(), "floor".into(), url.clone()],
            p_floor,
        )?;
        let _ax_floor = actix("floor", p_ax_floor, &url)?;
        let ours_cookies = self.seed(p_ours, "redis-ours.cookies")?;
        let contenders = [
            ("none-axum", p_none, ours_cookies.clone()),
            ("ours", p_ours, ours_cookies.clone()),
            ("ts-0.14", p_ts, self.seed(p_ts, "redis-ts.cookies")?),
            (FLOOR_AXUM, p_floor, ours_cookies.clone()),
            ("none-actix", p_ax_none, ours_cookies.clone()),
            (FLOOR_ACTIX, p_ax_floor, ours_cookies.clone()),
            (
                "ours-actix",
                p_ax_ours,
                self.seed(p_ax_ours, "redis-ours-actix.cookies")?,
            ),
            ("actix-0.11", p_ax, self.seed(p_ax, "redis-actix.cookies")?),
            (
                "ours-enc",
                p_enc,
                self.seed(p_enc, "redis-ours-enc.cookies")?,
            ),
            (
                NEAR_AXUM,
                p_near,
                self.seed(p_near, "redis-ours-near.cookies")?,
            ),
            (
                NEAR_ACTIX,
                p_ax_near,
                self.seed(p_ax_near, "redis-ours-actix-near.cookies")?,
            ),
        ];
        let mut commands: BTreeMap<(String, String), Vec<PerRequest>> = BTreeMap::new();
        let results = self.rounds(&contenders, |name, handler, run| {
            self.warm_sessions(&contenders, name, handler)?;
            redis_cli(&["CONFIG", "RESETSTAT"])?;
            let cpu_before = redis_cpu_us()?;
            let mut result = run()?;
            let counted = redis_commandstats()?;
            result.set_backend_cpu(redis_cpu_us()? - cpu_before);
            commands
                .entry((name.to_owned(), handler.to_owned()))
                .or_default()
                .push(counted.per_request(result.requests));
            Ok(result)
        })?;
        // Round trips: commands the clients sent, without those Lua scripts ran inside Redis
        // (INFO commandstats counts both), from MONITOR during a short extra run.
        let mut trips = BTreeMap::new();
        for (name, port, cookies) in contenders.iter().filter(|c| !c.0.starts_with("none")) {
            for handler in HANDLERS.into_iter().filter(|h| serves(name, h)) {
                self.warm_sessions(&contenders, name, handler)?;
                let per = self.redis_round_trips(*port, handler, cookies)?;
                trips.insert(((*name).to_owned(), handler.to_owned()), per);
            }
        }
        let mut http = Http::from_runs(results).with_commands(commands);
        http.trips = trips;
        report.redis = Some(http);
        Ok(())
    }

    /// Before every `/read` run: reads every seeded session once, and twice for a
    /// near-cache contender.
    ///
    /// - Expiry refreshes. Ours refreshes a session's expiry on a read at most once a
    ///   minute (`touch_interval`). The harness seeds every session at the same instant
    ///   and one contender's `/read` runs come minutes apart, so without this pass each
    ///   measured run would begin with all 10,000 sessions due at once: a burst of one
    ///   refresh per session, where a deployment spreads them over the minute. The pass
    ///   makes the refreshes that are due, so the run measures reads (a session stays
    ///   fresh for the 60 s after it). The anchors refresh nothing on a read; for them the
    ///   pass is only reads.
    /// - Near cache. A first read that finds a refresh due makes it, which drops the
    ///   session from the cache; the second caches it again, so the measured run, which
    ///   ends within the cache's 5 s bound (`session_redis::NEAR_CACHE_MAX_AGE`) of these
    ///   reads, measures reads answered from memory.
    ///
    /// Its commands are not counted: the caller resets the counters after it.
    fn warm_sessions(
        &self,
        contenders: &[(&str, u16, PathBuf)],
        name: &str,
        handler: &str,
    ) -> Result<()> {
        if handler != "read" || name.starts_with("none") || is_floor(name) {
            return Ok(());
        }
        let Some((_, port, cookies)) = contenders.iter().find(|c| c.0 == name) else {
            bail!("no contender named {name}");
        };
        let cookies: Vec<String> = std::fs::read_to_string(cookies)?
            .lines()
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect();
        let passes = if NEAR_CACHED.contains(&name) { 2 } else { 1 };
        for _ in 0..passes {
            get_each(*port, "/read", &cookies)?;
        }
        Ok(())
    }
}

/// Our contenders with the near cache on (`near_cache=N` in the provider config).
const NEAR_AXUM: &str = "ours-near";
const NEAR_ACTIX: &str = "ours-actix-near";
const NEAR_CACHED: [&str; 2] = [NEAR_AXUM, NEAR_ACTIX];

/// The bare-`GET` floors (`bench_common::redis_floor`), measured on `/read` only.
pub(super) const FLOOR_AXUM: &str = "floor-axum";
pub(super) const FLOOR_ACTIX: &str = "floor-actix";

/// The report's memory section.
pub(super) fn memory_markdown(m: &Http, out: &mut String) {
    out.push_str("## HTTP, memory\n\nOur axum layer + memory provider (`ours`), the same with encryption at rest (`ours-enc`, XChaCha20-Poly1305), tower-sessions 0.15 + `MemoryStore` (`ts-0.15`), and the same app without a session layer (`none`).\n\n");
    m.table(out, Some("none"));
    for h in ["read", "write"] {
        let ours = m.overhead_us("ours", "none", h);
        let ts = m.overhead_us("ts-0.15", "none", h);
        let _ = writeln!(
            out,
            "- /{h}: our overhead is {:.2}x tower-sessions' ({ours:.2} µs vs {ts:.2} µs).",
            ours / ts
        );
    }
    let _ = writeln!(
        out,
        "- /untouched: ours serves {:.3}x the no-layer rate; tower-sessions {:.3}x.\n",
        m.get("ours", "untouched") / m.get("none", "untouched"),
        m.get("ts-0.15", "untouched") / m.get("none", "untouched"),
    );
    encryption_cost(m, "ours", out);
}

/// The line on what encryption at rest costs: `ours-enc` over `ours` on the handlers that
/// read or write a record, in server CPU time (steadier than wall time) and wall time.
fn encryption_cost(h: &Http, ours: &str, out: &mut String) {
    let cost: Vec<String> = ["read", "write"]
        .iter()
        .map(|handler| {
            format!(
                "{:+.2} µs CPU ({:+.2} µs wall) on /{handler}",
                h.cpu_overhead_us("ours-enc", ours, handler),
                h.overhead_us("ours-enc", ours, handler)
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "- encryption at rest (`ours-enc` over `ours`, same server otherwise): {} per request.\n",
        cost.join(", ")
    );
}

/// The report's Redis section.
pub(super) fn redis_markdown(r: &Http, out: &mut String, plan: &Plan) {
    let _ = write!(
        out,
        "## HTTP, Redis\n\nOur redis provider behind our axum adapter (`ours`), the same with encryption at rest (`ours-enc`), and behind our actix-web adapter (`ours-actix`); both again with the opt-in near cache (`ours-near`, `ours-actix-near`: `near_cache={SESSIONS}`, room for every seeded session; before each of their /read runs every seeded session is read twice, which loads it into the cache, so their /read figures are of reads answered from memory); tower-sessions 0.14 + tower-sessions-redis-store 0.16 (fred, axum, `ts-0.14`); actix-web + actix-session 0.11 `RedisSessionStore` (`actix-0.11`); each framework without a session layer (`none-axum`, `none-actix`); and each framework without a session layer whose `/read` sends one bare `GET` of the cookie's key through the `redis` crate's `ConnectionManager` with our provider's timeouts (`floor-axum`, `floor-actix`, measured on /read only): the least any session layer over that client costs. \
        Before every /read run each seeded session is read once (near cache: twice), so the expiry refreshes that came due since the contender's last run are made before it, not in a burst inside it. \
        A private `redis-server` on port 6390 (core 1, with wrk).\n\n"
    );
    r.table(out, None);
    let _ = write!(
        out,
        "Commands per request as Redis counts them (`INFO commandstats`: a script call counts once for `EVALSHA` and once per command the script runs), round trips per request (commands the client sent, from `MONITOR` during an extra {} s run), \
        and Redis' own CPU time per request (`INFO cpu` `used_cpu_user` + `used_cpu_sys` of the private redis-server before and after each measured run, over wrk's request count; median of the runs):\n\n\
        | handler | contender | commands/request | by command | round trips/request | by command | Redis CPU µs/request |\n|---|---|---:|---|---:|---|---:|\n",
        plan.count_secs
    );
    for h in HANDLERS {
        for c in r.contenders.iter().filter(|c| serves(c, h)) {
            let key = (c.clone(), h.to_owned());
            let per = r.commands.get(&key).cloned().unwrap_or_default();
            let trips = r.trips.get(&key).cloned().unwrap_or_default();
            let _ = writeln!(
                out,
                "| {h} | {c} | {:.2} | {} | {:.2} | {} | {:.2} |",
                per.total(),
                per.breakdown(),
                trips.total(),
                trips.breakdown(),
                r.backend_cpu(c, h)
            );
        }
    }
    out.push_str("\nSame framework, same handler (req/s ratio; Redis CPU ratio; overhead = µs per request over that framework's no-session baseline):\n\n\
        | handler | ours / ts-0.14 (axum) | ours-actix / actix-0.11 (actix-web) | Redis CPU ours / ts-0.14 | Redis CPU ours-actix / actix-0.11 | ours overhead µs | ts-0.14 overhead µs | ours-actix overhead µs | actix-0.11 overhead µs |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for h in HANDLERS {
        let _ = writeln!(
            out,
            "| {h} | {:.2}x | {:.2}x | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} |",
            r.get("ours", h) / r.get("ts-0.14", h),
            r.get("ours-actix", h) / r.get("actix-0.11", h),
            cpu_ratio(r.backend_cpu("ours", h), r.backend_cpu("ts-0.14", h)),
            cpu_ratio(
                r.backend_cpu("ours-actix", h),
                r.backend_cpu("actix-0.11", h)
            ),
            r.overhead_us("ours", "none-axum", h),
            r.overhead_us("ts-0.14", "none-axum", h),
            r.overhead_us("ours-actix", "none-actix", h),
            r.overhead_us("actix-0.11", "none-actix", h),
        );
    }
    out.push('\n');
    floor_budget(r, out);
    encryption_cost(r, "ours", out);
    near_cache_effect(r, out);
}

/// The lines on the bare-`GET` floors: how far above them each session layer sits on
/// /read, and how much server CPU 1.1x the anchor's rate would leave a layer over them.
fn floor_budget(r: &Http, out: &mut String) {
    for (floor, ours, anchor) in [
        (FLOOR_AXUM, "ours", "ts-0.14"),
        (FLOOR_ACTIX, "ours-actix", "actix-0.11"),
    ] {
        let budget = r.cpu(anchor, "read") / 1.1 - r.cpu(floor, "read");
        let _ = writeln!(
            out,
            "- /read over the bare-`GET` floor (`{floor}`, {:.2}x {anchor}'s req/s): server CPU per request above it {:.2} µs for `{ours}`, {:.2} µs for {anchor}; 1.1x {anchor}'s rate at {anchor}'s CPU leaves a session layer {budget:.2} µs above it.",
            r.get(floor, "read") / r.get(anchor, "read"),
            r.cpu_overhead_us(ours, floor, "read"),
            r.cpu_overhead_us(anchor, floor, "read"),
        );
    }
}

/// The lines on the near cache: each near-cache contender against the anchor on its
/// framework and against the same server without the cache.
fn near_cache_effect(r: &Http, out: &mut String) {
    for (near, plain, anchor) in [
        (NEAR_AXUM, "ours", "ts-0.14"),
        (NEAR_ACTIX, "ours-actix", "actix-0.11"),
    ] {
        let per_handler: Vec<String> = ["read", "write"]
            .iter()
            .map(|h| {
                format!(
                    "/{h} {:.2}x {anchor}'s req/s and {:.2}x `{plain}`'s, server CPU {:+.2} µs per request over `{plain}`",
                    r.get(near, h) / r.get(anchor, h),
                    r.get(near, h) / r.get(plain, h),
                    r.cpu_overhead_us(near, plain, h),
                )
            })
            .collect();
        let _ = writeln!(out, "- near cache (`{near}`): {}.", per_handler.join("; "));
    }
    out.push('\n');
}
