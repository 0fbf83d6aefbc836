//! The scenarios, one module per group, and the request helpers they share.
//!
//! Adding a group: write a module whose scenarios are `fn(&Ctx) -> ScenarioFuture<'_>`,
//! and list them in [`ALL`].

mod auth;
mod basics;
mod both;
mod concurrency;
mod cookies;
mod degraded;
mod devices;
mod flash;
mod limits;
mod outage;
mod pages;
mod remember;
mod rotation;
mod strict;
mod tokens;

use std::future::Future;
use std::pin::Pin;

use http::Method;

use crate::client::{Body, Client, Reply};
use crate::report::Outcome;
use crate::{Target, checks};

/// Why a scenario did not pass.
#[derive(Debug)]
pub(crate) enum Failure {
    Failed(String),
    Unsupported(String),
    NotRun(String),
}

impl Failure {
    pub(crate) fn failed(message: impl Into<String>) -> Self {
        Failure::Failed(message.into())
    }
}

impl From<Failure> for Outcome {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Failed(m) => Outcome::Failed(m),
            Failure::Unsupported(m) => Outcome::Unsupported(m),
            Failure::NotRun(m) => Outcome::NotRun(m),
        }
    }
}

pub(crate) type ScenarioResult = Result<(), Failure>;
pub(crate) type ScenarioFuture<'a> = Pin<Box<dyn Future<Output = ScenarioResult> + Send + 'a>>;

/// One named scenario.
pub(crate) struct Scenario {
    pub(crate) group: &'static str,
    pub(crate) name: &'static str,
    pub(crate) run: for<'a> fn(&'a Ctx) -> ScenarioFuture<'a>,
}

const fn scenario(
    group: &'static str,
    name: &'static str,
    run: for<'a> fn(&'a Ctx) -> ScenarioFuture<'a>,
) -> Scenario {
    Scenario { group, name, run }
}

/// Every scenario, in run order.
pub(crate) const ALL: &[Scenario] = &[
    scenario("basics", "index returns the seed string", basics::index),
    scenario(
        "basics",
        "no cookie until the session holds data",
        basics::no_cookie_until_data,
    ),
    scenario(
        "basics",
        "set, get and delete round trip",
        basics::round_trip,
    ),
    scenario(
        "basics",
        "emptied session removes its cookie",
        basics::emptied_session,
    ),
    scenario(
        "basics",
        "replayed Set-Cookie line works as Cookie",
        basics::replayed_set_cookie,
    ),
    scenario(
        "basics",
        "stats counts sessions one by one, or answers null",
        basics::stats,
    ),
    scenario("cookies", "attributes on create", cookies::on_create),
    scenario(
        "cookies",
        "attributes on regenerate (login)",
        cookies::on_regenerate,
    ),
    scenario(
        "cookies",
        "attributes on destroy (logout)",
        cookies::on_destroy,
    ),
    scenario(
        "cookies",
        "session cookie in a second Cookie line",
        cookies::split_header_lines,
    ),
    scenario(
        "strict",
        "unknown well-formed id is not adopted",
        strict::unknown_id,
    ),
    scenario(
        "strict",
        "malformed ids are not adopted",
        strict::malformed_ids,
    ),
    scenario(
        "strict",
        "a tossed cookie does not shadow the session",
        strict::tossed_cookie,
    ),
    scenario("auth", "whoami without a session is 401", auth::anonymous),
    scenario("auth", "login regenerates the id", auth::login_regenerates),
    scenario("auth", "logout kills the old cookie", auth::logout),
    scenario("auth", "log out everywhere", auth::logout_everywhere),
    scenario(
        "devices",
        "two clients: devices listed, the other revoked by handle",
        devices::two_clients,
    ),
    scenario(
        "owner-cap",
        "a login over the per-owner cap is refused or evicts",
        devices::owner_cap,
    ),
    scenario(
        "outage",
        "backend outage answers 503 and keeps the cookie",
        outage::outage,
    ),
    scenario(
        "degraded",
        "anonymous page serves through an outage, writes refused",
        degraded::anonymous_public_page,
    ),
    scenario(
        "concurrency",
        "50 concurrent writes to one session",
        concurrency::fifty_writers,
    ),
    scenario(
        "concurrency",
        "concurrent logins: exactly one carries the data",
        concurrency::concurrent_logins,
    ),
    scenario(
        "rotation",
        "parallel requests during a rotation end on one new ID",
        rotation::parallel_requests_during_rotation,
    ),
    scenario(
        "limits",
        "record over max_record_size is 413, data kept",
        limits::oversized_record,
    ),
    scenario(
        "flash",
        "signup messages shown once on the next page",
        flash::seed_signup,
    ),
    scenario(
        "flash",
        "show-now messages and escaping",
        flash::show_now_and_escaping,
    ),
    scenario(
        "tokens",
        "header routes: bearer token in, Session-Token out, no cookie fallback",
        tokens::header_routes,
    ),
    scenario(
        "tokens",
        "csrf guard: 403 without the session's token, rotated at login",
        tokens::csrf_guard,
    ),
    scenario(
        "pages",
        "sign in and out through the /app forms, CSRF token required, flash once",
        pages::sign_in_and_out,
    ),
    scenario(
        "pages",
        "remember me gives a persistent cookie, names escaped, bad names told on the page",
        pages::remember_me_and_escaping,
    ),
    scenario(
        "pages",
        "devices listed with handles, one revoked, sign out everywhere else",
        pages::devices,
    ),
    scenario(
        "tokens",
        "both transports on one route: header or cookie, the header wins",
        both::header_or_cookie,
    ),
    scenario(
        "remember",
        "remember-me: persistent cookie, bounded, kept at login, own idle lifetime",
        remember::lifetime_of_its_own,
    ),
];

/// What a scenario gets: the target and a client bound to it.
pub(crate) struct Ctx {
    pub(crate) target: Target,
    client: Client,
    /// Makes names unique to this run, so runs sharing a store do not interfere.
    pub(crate) run_tag: String,
}

impl Ctx {
    pub(crate) fn new(target: Target) -> Self {
        Ctx {
            client: Client::new(&target.base_url),
            target,
            run_tag: random_hex(4),
        }
    }

    /// `Cookie` header value carrying session ID `value`.
    pub(crate) fn cookie(&self, value: &str) -> String {
        format!("{}={value}", self.target.cookie_name)
    }

    /// Sends a request with `Cookie: <cookie>` when given. Any reply that sets the session
    /// cookie without `Cache-Control: no-store` fails the scenario, whichever it is.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        cookie: Option<&str>,
        body: Body,
    ) -> Result<Reply, Failure> {
        self.send_lines(method, path, cookie.as_slice(), body).await
    }

    /// Like [`Ctx::send`], with one `Cookie` header line per item of `cookies` (as HTTP/2
    /// clients may send them).
    pub(crate) async fn send_lines(
        &self,
        method: Method,
        path: &str,
        cookies: &[&str],
        body: Body,
    ) -> Result<Reply, Failure> {
        let lines: Vec<_> = cookies
            .iter()
            .map(|c| (http::header::COOKIE.as_str(), *c))
            .collect();
        self.send_headers(method, path, &lines, body).await
    }

    /// Sends a request with the given `(name, value)` header lines, under the same checks
    /// as [`Ctx::send`].
    pub(crate) async fn send_headers(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Body,
    ) -> Result<Reply, Failure> {
        let reply = self
            .client
            .send_headers(method, path, headers, body)
            .await?;
        checks::cache_control(&self.target, &reply)?;
        Ok(reply)
    }

    /// `GET path` with session ID `sid` (a raw `Cookie` header is [`Ctx::send`]).
    pub(crate) async fn get(&self, path: &str, sid: Option<&str>) -> Result<Reply, Failure> {
        let cookie = sid.map(|s| self.cookie(s));
        self.send(Method::GET, path, cookie.as_deref(), Body::Empty)
            .await
    }

    /// `PUT /session/{key}` with `value` as the body.
    pub(crate) async fn put(
        &self,
        key: &str,
        value: &str,
        sid: Option<&str>,
    ) -> Result<Reply, Failure> {
        let cookie = sid.map(|s| self.cookie(s));
        self.send(
            Method::PUT,
            &format!("/session/{key}"),
            cookie.as_deref(),
            Body::Text(value.to_owned()),
        )
        .await
    }

    /// `DELETE /session/{key}`.
    pub(crate) async fn delete(&self, key: &str, sid: Option<&str>) -> Result<Reply, Failure> {
        let cookie = sid.map(|s| self.cookie(s));
        self.send(
            Method::DELETE,
            &format!("/session/{key}"),
            cookie.as_deref(),
            Body::Empty,
        )
        .await
    }

    /// `POST path` with an empty body.
    pub(crate) async fn post(&self, path: &str, sid: Option<&str>) -> Result<Reply, Failure> {
        let cookie = sid.map(|s| self.cookie(s));
        self.send(Method::POST, path, cookie.as_deref(), Body::Empty)
            .await
    }

    /// `POST /login` with form `user=<user>`.
    pub(crate) async fn login_request(
        &self,
        user: &str,
        sid: Option<&str>,
    ) -> Result<Reply, Failure> {
        let cookie = sid.map(|s| self.cookie(s));
        self.send(
            Method::POST,
            "/login",
            cookie.as_deref(),
            Body::Form(format!("user={user}")),
        )
        .await
    }

    /// Logs `user` in (from session `sid`, if any) and returns the new session ID, checking
    /// the cookie's attributes.
    pub(crate) async fn login(&self, user: &str, sid: Option<&str>) -> Result<String, Failure> {
        let reply = self.login_request(user, sid).await?;
        reply.expect_status(http::StatusCode::NO_CONTENT)?;
        checks::new_cookie(&self.target, &reply)
    }

    /// Stores `key` = `value` in a new session and returns its ID.
    pub(crate) async fn new_session(&self, key: &str, value: &str) -> Result<String, Failure> {
        let reply = self.put(key, value, None).await?;
        reply.expect_status(http::StatusCode::NO_CONTENT)?;
        checks::new_cookie(&self.target, &reply)
    }

    /// A user name unique to this run.
    pub(crate) fn user(&self, name: &str) -> String {
        format!("{name}-{}", self.run_tag)
    }
}

/// `n` random bytes as lowercase hex.
pub(crate) fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    // Uniqueness is all that is needed; a failing OS RNG just gives fixed bytes.
    let _ = getrandom::fill(&mut bytes);
    hex::encode(bytes)
}

/// Fails with `message` unless `cond` holds.
pub(crate) fn ensure(cond: bool, message: impl FnOnce() -> String) -> ScenarioResult {
    if cond {
        Ok(())
    } else {
        Err(Failure::Failed(message()))
    }
}
