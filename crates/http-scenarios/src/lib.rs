//! One HTTP scenario suite, written once, run over real TCP against any adapter's demo app.
//!
//! Every adapter (axum, actix-web, poem) ships a demo app serving the same small HTTP
//! contract. This crate speaks that contract as a browser would, with a real HTTP/1.1 client
//! over TCP, and checks what a user can observe: status codes, bodies and the exact
//! `Set-Cookie` / `Cache-Control` headers. It knows nothing about the framework under test, so
//! a behaviour that differs between adapters shows up as a failed scenario here.
//!
//! # The demo contract
//!
//! | Request | Answer |
//! |---|---|
//! | `GET /` | sets `session` = `"session middleware"` and returns that string (Macaron's seed) |
//! | `GET /session/{key}` | 200 with the stored string, 404 when absent |
//! | `PUT /session/{key}` (body = value) | 204; 413 when the session's record would be over `max_record_size` (bodies up to 16 MiB are read, so the session layer decides) |
//! | `DELETE /session/{key}` | 204 |
//! | `POST /login` (form `user=NAME`) | 204; binds the session to owner NAME, regenerates the ID, stores `uid` = NAME; 409 when a per-owner cap refuses it (nothing written) |
//! | `GET /whoami` | 200 with the uid, or 401 |
//! | `POST /login/remember` (form `user=NAME`, optional `idle=SECONDS`, 14 days by default) | the same as `POST /login`, and the session gets that idle lifetime of its own (remember-me: a persistent cookie whose `Max-Age` core bounds by `max_persistent_lifetime`) |
//! | `POST /logout` | 204; destroys the session |
//! | `POST /logout-everywhere` | 200 JSON `{"destroyed": N}` (the owner's other sessions); 501 when the provider has no owner index |
//! | `GET /devices` | 200 JSON `{"devices": [{"handle", "created", "last_seen", "user_agent", "ip", "persistent", "current"}]}`, the signed-in user's sessions most recently seen first; 401 when not signed in; 501 without an owner index |
//! | `POST /devices/revoke` (form `handle=H`) | 200 JSON `{"revoked": true\|false}`; the own handle signs this client out; 400 for a malformed handle; 401 when not signed in; 501 without an owner index |
//! | `GET /public` | 200 `hello, NAME` for a signed-in user (`uid`), `hello, visitor` otherwise; under the `anonymous` outage policy, so it keeps answering (as to a visitor) while the store is down |
//! | `POST /public` | 204; stores `visited` = `"yes"`; while the store is down the write is refused: 503 with core's refused-write message (or, without a cookie, the new session fails at commit: 503) |
//! | `POST /both/login`, `GET /both/whoami`, `POST /both/logout` | as `/login`, `/whoami` and `/logout`, under the `both` transport: the session ID from `Authorization: Bearer` when the request carries it, else from the cookie; answered in the transport the request used (`Session-Token` or `Set-Cookie`) |
//! | `GET /stats` | 200 JSON `{"count": N}`, `null` when the provider cannot count |
//! | `GET /metrics` | 200, the Prometheus text of the process's recorder (`demo_support::install_prometheus`); 404 when none is installed. Checked by [`metrics::after_a_scripted_flow`], not by the suite |
//! | `GET /signup` | 200 `text/html`: the seed's page (one `<h2>` line each for the latest success, error, info and warning message) with what was queued before; queues the seed's four messages for the next page |
//! | `GET /flash` | 200 `text/html`: the same page, consuming the queued messages |
//! | `POST /flash` (form `level`, `text`, `now`) | 200, the page; queues the message, or with `now=true` shows it in this response only; 400 for an unknown level |
//! | `GET /app` | 200 `text/html`: the page set of `demo_support::pages` (the sign-in form, or who is signed in, the devices and the sign-out buttons), every form carrying the session's CSRF token in `csrf_token`; shows the flash messages once |
//! | `POST /app/login` (form `csrf_token`, `user`, `remember`), `/app/logout`, `/app/logout-everywhere`, `/app/devices/revoke` (form `handle`) | 303 to `/app` with the outcome as a flash message; 403 without the session's CSRF token; 400 for a malformed device handle |
//!
//! Every response that sets the session cookie carries `Cache-Control: no-store` and
//! `Vary: Cookie`. A backend failure answers 503 without `Set-Cookie` on every route but
//! `/public` (see above); an oversized record
//! answers 413 without `Set-Cookie`, and the session keeps what it held.
//!
//! # Design choices
//!
//! - **No cookie jar.** The suite writes the `Cookie` header itself, so it can replay dead
//!   cookies, forge malformed ones and send a whole `Set-Cookie` line back, which a jar would
//!   never do.
//! - **Every response is checked for `Cache-Control: no-store`** when it sets the session
//!   cookie, not only in the scenarios about cookies.
//! - **Unique user names per run**, so two runs against one server (or one store) do not see
//!   each other's sessions in "log out everywhere".
//! - **Outages are driven by the caller** through [`Target::outage`]: the suite cannot break a
//!   backend by itself, the test that built the app can (typically with
//!   `session_core::conformance::Instrumented::set_down`, or by stopping and restarting a
//!   real server). Without a switch the outage scenarios (`outage`, `degraded`) are reported
//!   as not run; so are the `rotation` scenarios on a server without ID rotation
//!   ([`Target::rotation`]), which [`setups::memory_with_rotation`] runs, and the
//!   `owner-cap` scenario on a server without a per-owner cap ([`Target::owner_cap`]),
//!   which [`setups::memory_with_owner_cap`] runs.
//! - Scenarios run one after the other (each is internally concurrent where it needs to be),
//!   each with a generous safety timeout so that a hung server fails instead of hanging the
//!   test. The switch is reset to "up" after every scenario, whatever happened.
//! - **Instrumentation is optional**: with [`Target::writes`] (the store's write count) the
//!   scenarios also check that a request that must not store anything wrote nothing.
//! - Scenarios are grouped in one module per topic (`basics`, `cookies`, `strict`, `auth`,
//!   `outage`, `degraded`, `concurrency`, `limits`, `flash`, `rotation`, `tokens`, `devices`,
//!   `owner-cap`, `pages`, `remember`); a new group is one more module under `scenarios/` and
//!   one line per scenario in its list.
//! - **The set-ups live here too** ([`setups`]): every adapter runs the suite under the same
//!   provider and cookie configurations, and its test file holds only how to serve its demo.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() {
//! use http_scenarios::{Target, run};
//!
//! let target = Target::new("http://127.0.0.1:8080").with_secure(true);
//! let report = run(&target).await;
//! println!("{report}");
//! report.assert_passed();
//! # }
//! ```

mod checks;
mod client;
pub mod metrics;
mod report;
mod scenarios;
pub mod setups;

use std::sync::Arc;
use std::time::Duration;

pub use report::{Outcome, Report, ScenarioReport};

/// Turns the target's session provider off (`true`: every operation fails) or on again
/// (`false`).
pub type OutageSwitch = Arc<dyn Fn(bool) + Send + Sync>;

/// How many writes (saves and inserts) the target's store has seen so far.
pub type WriteCounter = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The demo app under test and the cookie settings it was configured with.
///
/// The suite expects the defaults for what it has no field for: `SameSite=Lax`, `HttpOnly`,
/// and a browser-session cookie (`COOKIE_LIFE_TIME` = 0; with a persistent cookie the server
/// rightly re-sends it on every write, which the "no needless Set-Cookie" checks would
/// reject).
#[derive(Clone)]
pub struct Target {
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    /// The session cookie's name (`Options::cookie_name`).
    pub cookie_name: String,
    /// The `Path` the cookie must carry (`Options::cookie_path`).
    pub cookie_path: String,
    /// Whether the cookie must carry `Secure` (`Options::secure`).
    pub secure: bool,
    /// The `Domain` the cookie must carry, if one is configured (`Options::domain`).
    pub domain: Option<String>,
    /// The largest record the session layer stores (`Options::max_record_size`).
    pub max_record_size: usize,
    /// Makes the provider fail and recover, for the outage scenario.
    pub outage: Option<OutageSwitch>,
    /// Reads the store's write count, so scenarios can check that a request stored nothing.
    pub writes: Option<WriteCounter>,
    /// The ID rotation interval and grace the server runs with (`Options::rotation_interval`,
    /// `Options::rotation_grace`); the `rotation` scenarios are not run without one.
    pub rotation: Option<(Duration, Duration)>,
    /// The longest lifetime a remember-me session may be given
    /// (`Options::max_persistent_lifetime`): the bound on its cookie's `Max-Age`.
    pub max_persistent_lifetime: Duration,
    /// Whether the server records user agent and network at login
    /// (`Options::device_metadata`): the devices scenario then expects them listed.
    pub device_metadata: bool,
    /// The per-owner session cap and its policy (`Options::max_sessions_per_owner`,
    /// `Options::owner_limit_policy`); the `owner-cap` scenario is not run without one.
    pub owner_cap: Option<(usize, session_core::OwnerLimitPolicy)>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("base_url", &self.base_url)
            .field("cookie_name", &self.cookie_name)
            .field("cookie_path", &self.cookie_path)
            .field("secure", &self.secure)
            .field("domain", &self.domain)
            .field("max_record_size", &self.max_record_size)
            .field("outage", &self.outage.is_some())
            .field("writes", &self.writes.is_some())
            .field("rotation", &self.rotation)
            .field("max_persistent_lifetime", &self.max_persistent_lifetime)
            .field("device_metadata", &self.device_metadata)
            .field("owner_cap", &self.owner_cap)
            .finish()
    }
}

impl Target {
    /// A target at `base_url` with the default cookie settings of `session_core::Options`.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self::for_options(base_url, &session_core::Options::default())
    }

    /// A target at `base_url` whose cookie settings and record size limit are those of
    /// `options` (the options the demo app's manager was built with).
    pub fn for_options(base_url: impl Into<String>, options: &session_core::Options) -> Self {
        let base_url = base_url.into().trim_end_matches('/').to_owned();
        Target {
            base_url,
            cookie_name: options.cookie_name.clone(),
            cookie_path: options.cookie_path.clone(),
            secure: options.secure,
            domain: options.domain.clone(),
            max_record_size: options.max_record_size,
            outage: None,
            writes: None,
            rotation: options
                .rotation_interval
                .map(|interval| (interval, options.rotation_grace)),
            max_persistent_lifetime: options.max_persistent_lifetime,
            device_metadata: options.device_metadata,
            owner_cap: options
                .max_sessions_per_owner
                .map(|cap| (cap, options.owner_limit_policy)),
        }
    }

    /// Sets whether the cookie must be `Secure`.
    pub fn with_secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// Adds the outage switch, which enables the outage scenarios. It is called with `false`
    /// after every scenario, so it must tolerate "up" when the backend is already up.
    pub fn with_outage(mut self, switch: impl Fn(bool) + Send + Sync + 'static) -> Self {
        self.outage = Some(Arc::new(switch));
        self
    }

    /// Adds the store's write counter (typically
    /// `session_core::conformance::Instrumented::writes`), which lets scenarios check that a
    /// request wrote nothing, beyond sending no cookie.
    pub fn with_write_counter(mut self, counter: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.writes = Some(Arc::new(counter));
        self
    }
}

/// The longest one scenario may take before it is failed. A safety net against a hung
/// server, not a performance bound.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs every scenario against `target` and reports each one.
pub async fn run(target: &Target) -> Report {
    run_only(target, |_| true).await
}

/// Runs the scenarios whose name `filter` accepts.
pub async fn run_only(target: &Target, filter: impl Fn(&str) -> bool) -> Report {
    let ctx = scenarios::Ctx::new(target.clone());
    let mut report = Report {
        target: target.base_url.clone(),
        scenarios: Vec::new(),
    };
    for scenario in scenarios::ALL {
        if !filter(scenario.name) {
            continue;
        }
        let outcome = match tokio::time::timeout(SCENARIO_TIMEOUT, (scenario.run)(&ctx)).await {
            Ok(Ok(())) => Outcome::Passed,
            Ok(Err(failure)) => failure.into(),
            Err(_) => Outcome::Failed(format!("timed out after {SCENARIO_TIMEOUT:?}")),
        };
        if let Some(switch) = &target.outage {
            switch(false);
        }
        report.scenarios.push(ScenarioReport {
            group: scenario.group,
            name: scenario.name,
            outcome,
        });
    }
    report
}

/// The names of every scenario, in run order.
pub fn scenario_names() -> Vec<&'static str> {
    scenarios::ALL.iter().map(|s| s.name).collect()
}
