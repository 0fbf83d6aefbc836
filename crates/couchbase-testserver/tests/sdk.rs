//! The test server driven by the official SDK (`couchbase` 1.x), as the session provider uses it.

use std::sync::Arc;
use std::time::Duration;

use couchbase::authenticator::PasswordAuthenticator;
use couchbase::cluster::Cluster;
use couchbase::collection::Collection;
use couchbase::error::ErrorKind;
use couchbase::options::cluster_options::ClusterOptions;
use couchbase::options::kv_options::{
    GetOptions, InsertOptions, RemoveOptions, ReplaceOptions, UpsertOptions,
};
use couchbase::retry::{RetryAction, RetryReason, RetryRequest, RetryStrategy};
use couchbase::transcoding;
use couchbase_testserver::{ManualClock, TestConfig, TestServer};
use serde_json::{Value, json};

/// Long enough for any healthy connect or operation on a loaded machine; only reached when the
/// SDK hangs (which it does, retrying, on refused auth).
const BOUND: Duration = Duration::from_secs(30);

fn config(clock: &ManualClock) -> TestConfig {
    TestConfig {
        bucket: "sessions".into(),
        username: "app".into(),
        password: "s3cret pass".into(),
        collections: vec![("app".into(), "sessions".into())],
        clock: clock.clone().into(),
        ..TestConfig::default()
    }
}

async fn connect_as(
    server: &TestServer,
    user: &str,
    password: &str,
) -> couchbase::error::Result<Cluster> {
    let options = ClusterOptions::new(PasswordAuthenticator::new(user, password).into());
    tokio::time::timeout(BOUND, Cluster::connect(server.url(), options))
        .await
        .expect("Cluster::connect did not return")
}

/// A server and a connected collection. The `Cluster` is returned too: dropping it closes the
/// SDK's connections (every later operation fails with `ClusterDropped`).
async fn start() -> (TestServer, ManualClock, Cluster, Collection) {
    let clock = ManualClock::starting_now();
    let server = TestServer::start(config(&clock))
        .await
        .expect("server starts");
    let cluster = connect_as(&server, "app", "s3cret pass")
        .await
        .expect("connects");
    let collection = cluster.bucket("sessions").default_collection();
    (server, clock, cluster, collection)
}

/// Retries `op` until it succeeds, for at most `RECOVERY`: after its connections drop, the SDK
/// reconnects with back-off, and an operation issued meanwhile may wait on a dead connection
/// (seen on a loaded CI machine) while a fresh one goes through.
async fn recovered<T, E: std::fmt::Debug, F: Future<Output = Result<T, E>>>(
    op: impl Fn() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + RECOVERY;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), op()).await {
            Ok(Ok(value)) => return value,
            Ok(Err(e)) if tokio::time::Instant::now() >= deadline => {
                panic!("the client did not recover within {RECOVERY:?}: {e:?}")
            }
            Err(_) if tokio::time::Instant::now() >= deadline => {
                panic!("the client did not recover within {RECOVERY:?}: no answer")
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

const RECOVERY: Duration = Duration::from_secs(120);

async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, f)
        .await
        .expect("operation did not return")
}

fn kind<T: std::fmt::Debug>(r: couchbase::error::Result<T>) -> ErrorKind {
    r.expect_err("expected an error").kind().clone()
}

#[derive(Debug)]
struct FailFast;

impl RetryStrategy for FailFast {
    fn retry_after(&self, _: &RetryRequest, _: &RetryReason) -> Option<RetryAction> {
        None
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_with_cas() {
    let (server, _clock, _cluster, coll) = start().await;
    let doc = json!({"user": "gopher", "n": 1});
    let put = bounded(coll.upsert("k1", &doc, None))
        .await
        .expect("upsert");
    let got = bounded(coll.get("k1", None)).await.expect("get");
    assert_eq!(got.content_as::<Value>().expect("json"), doc);
    assert_eq!(got.cas(), put.cas());
    assert!(
        server.document("k1").is_some(),
        "the server holds the document"
    );

    // insert never overwrites.
    let again = bounded(coll.insert("k1", json!({"other": true}), None)).await;
    assert_eq!(kind(again), ErrorKind::DocumentExists);
    bounded(coll.insert("k2", json!(2), InsertOptions::new()))
        .await
        .expect("insert new");

    // replace with the current CAS wins, with a stale CAS loses.
    let replaced =
        bounded(coll.replace("k1", json!({"n": 2}), ReplaceOptions::new().cas(got.cas())))
            .await
            .expect("replace with current cas");
    assert_ne!(replaced.cas(), got.cas());
    let stale =
        bounded(coll.replace("k1", json!({"n": 3}), ReplaceOptions::new().cas(got.cas()))).await;
    assert_eq!(kind(stale), ErrorKind::CasMismatch);
    let missing =
        bounded(coll.replace("nope", json!(1), ReplaceOptions::new().cas(replaced.cas()))).await;
    assert_eq!(kind(missing), ErrorKind::DocumentNotFound);

    // remove with a stale CAS loses; remove twice: not found.
    let stale = bounded(coll.remove("k1", RemoveOptions::new().cas(got.cas()))).await;
    assert_eq!(kind(stale), ErrorKind::CasMismatch);
    bounded(coll.remove("k1", None)).await.expect("remove");
    assert_eq!(
        kind(bounded(coll.remove("k1", None)).await),
        ErrorKind::DocumentNotFound
    );
    assert_eq!(
        kind(bounded(coll.get("k1", None)).await),
        ErrorKind::DocumentNotFound
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_binary_documents_round_trip() {
    let (server, _clock, _cluster, coll) = start().await;
    let bytes: Vec<u8> = (0..=255).collect();
    let (content, flags) = transcoding::raw_binary::encode(&bytes).expect("encode");
    bounded(coll.upsert_raw("bin", content, flags, None))
        .await
        .expect("upsert_raw");
    let got = bounded(coll.get("bin", None)).await.expect("get");
    let (raw, got_flags) = got.content_as_raw();
    assert_eq!(
        transcoding::raw_binary::decode(raw, got_flags).expect("binary"),
        &bytes[..]
    );
    assert_eq!(server.document("bin").map(|d| d.flags), Some(flags));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_follows_the_server_clock() {
    let (server, clock, _cluster, coll) = start().await;
    let opts = UpsertOptions::new().expiry(Duration::from_secs(10));
    bounded(coll.upsert("e", json!(1), opts))
        .await
        .expect("upsert");
    clock.advance(Duration::from_millis(9_999));
    assert!(bounded(coll.get("e", None)).await.is_ok(), "expired early");
    // touch moves the expiry from the server's now.
    bounded(coll.touch("e", Duration::from_secs(10), None))
        .await
        .expect("touch");
    clock.advance(Duration::from_millis(9_999));
    assert!(
        bounded(coll.get("e", None)).await.is_ok(),
        "touch did not extend"
    );
    clock.advance(Duration::from_millis(1));
    assert_eq!(
        kind(bounded(coll.get("e", None)).await),
        ErrorKind::DocumentNotFound
    );
    assert_eq!(
        kind(bounded(coll.touch("e", Duration::from_secs(1), None)).await),
        ErrorKind::DocumentNotFound
    );

    // get_and_touch returns the document and sets the new expiry.
    bounded(coll.upsert(
        "g",
        json!("v"),
        UpsertOptions::new().expiry(Duration::from_secs(5)),
    ))
    .await
    .expect("upsert");
    let got = bounded(coll.get_and_touch("g", Duration::from_secs(100), None))
        .await
        .expect("gat");
    assert_eq!(got.content_as::<String>().expect("json"), "v");
    clock.advance(Duration::from_secs(99));
    assert!(server.document("g").is_some(), "gat did not extend");
    clock.advance(Duration::from_secs(1));
    assert!(server.document("g").is_none(), "gat extended too far");

    // No expiry: never expires.
    bounded(coll.upsert("forever", json!(1), None))
        .await
        .expect("upsert");
    clock.advance(Duration::from_secs(10 * 365 * 86_400));
    assert!(bounded(coll.get("forever", None)).await.is_ok());
}

/// The SDK sends TTLs of 30 days or more as absolute Unix times (from its wall clock); the
/// server reads values over 30 days as absolute, so a 60-day TTL lasts 60 days, not 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_day_ttl_is_an_absolute_time() {
    let (server, clock, _cluster, coll) = start().await;
    let start = clock.now_ms();
    let opts = UpsertOptions::new().expiry(Duration::from_secs(60 * 86_400));
    bounded(coll.upsert("long", json!(1), opts))
        .await
        .expect("upsert");
    let expires = server
        .document("long")
        .and_then(|d| d.expires_at_ms)
        .expect("has an expiry");
    // Whole seconds, taken from the SDK's clock a moment after `start`.
    assert!(
        expires >= start - 1_000 + 60 * 86_400_000,
        "expiry {expires} too early"
    );
    clock.advance(Duration::from_secs(59 * 86_400));
    assert!(
        bounded(coll.get("long", None)).await.is_ok(),
        "gone before 60 days"
    );
    clock.advance(Duration::from_secs(2 * 86_400));
    assert_eq!(
        kind(bounded(coll.get("long", None)).await),
        ErrorKind::DocumentNotFound
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_collection_is_separate() {
    let clock = ManualClock::starting_now();
    let server = TestServer::start(config(&clock))
        .await
        .expect("server starts");
    let cluster = connect_as(&server, "app", "s3cret pass")
        .await
        .expect("connects");
    let bucket = cluster.bucket("sessions");
    let named = bucket.scope("app").collection("sessions");
    let default = bucket.default_collection();
    bounded(named.upsert("k", json!("named"), None))
        .await
        .expect("upsert named");
    bounded(default.upsert("k", json!("default"), None))
        .await
        .expect("upsert default");
    let got = bounded(named.get("k", None)).await.expect("get named");
    assert_eq!(got.content_as::<String>().expect("json"), "named");
    assert_eq!(
        server.document_in("app", "sessions", "k").map(|d| d.value),
        Some(br#""named""#.to_vec())
    );
    assert_eq!(
        server.document("k").map(|d| d.value),
        Some(br#""default""#.to_vec())
    );
    assert_eq!(server.document_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_and_refused_auth_never_connect() {
    let clock = ManualClock::starting_now();
    let server = TestServer::start(config(&clock))
        .await
        .expect("server starts");
    // The SDK retries a refused login forever; a short bound is enough to see it never succeeds.
    let options = ClusterOptions::new(PasswordAuthenticator::new("app", "wrong").into());
    let attempt = tokio::time::timeout(
        Duration::from_secs(3),
        Cluster::connect(server.url(), options),
    )
    .await;
    assert!(
        !matches!(attempt, Ok(Ok(_))),
        "connected with a wrong password"
    );
    let options = ClusterOptions::new(PasswordAuthenticator::new("mallory", "s3cret pass").into());
    let attempt = tokio::time::timeout(
        Duration::from_secs(3),
        Cluster::connect(server.url(), options),
    )
    .await;
    assert!(
        !matches!(attempt, Ok(Ok(_))),
        "connected as an unknown user"
    );

    server.set_refuse_auth(true);
    let options = ClusterOptions::new(PasswordAuthenticator::new("app", "s3cret pass").into());
    let attempt = tokio::time::timeout(
        Duration::from_secs(3),
        Cluster::connect(server.url(), options),
    )
    .await;
    assert!(
        !matches!(attempt, Ok(Ok(_))),
        "connected while auth is refused"
    );
    server.set_refuse_auth(false);
    connect_as(&server, "app", "s3cret pass")
        .await
        .expect("the right password connects");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tmpfail_surfaces_as_temporary_failure() {
    let (server, _clock, _cluster, coll) = start().await;
    bounded(coll.upsert("k", json!(1), None))
        .await
        .expect("upsert");
    server.set_tmpfail(true);
    let fail_fast = GetOptions::new().retry_strategy(Arc::new(FailFast));
    assert_eq!(
        kind(bounded(coll.get("k", fail_fast.clone())).await),
        ErrorKind::TemporaryFailure
    );
    let upsert = UpsertOptions::new().retry_strategy(Arc::new(FailFast));
    assert_eq!(
        kind(bounded(coll.upsert("k", json!(2), upsert)).await),
        ErrorKind::TemporaryFailure
    );
    server.set_tmpfail(false);
    let got = bounded(coll.get("k", fail_fast))
        .await
        .expect("get after tmpfail");
    assert_eq!(
        got.content_as::<i64>().expect("json"),
        1,
        "a refused upsert wrote"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_recovers_from_dropped_connections_and_restarts() {
    let (server, _clock, _cluster, coll) = start().await;
    bounded(coll.upsert("k", json!("kept"), None))
        .await
        .expect("upsert");
    let before = server.connections_accepted();

    server.drop_connections().await;
    let got = recovered(|| coll.get("k", None)).await;
    assert_eq!(got.content_as::<String>().expect("json"), "kept");
    assert!(
        server.connections_accepted() > before,
        "the client did not reconnect"
    );

    server.stop().await;
    assert!(!server.is_listening());
    assert!(
        tokio::net::TcpStream::connect(server.addr()).await.is_err(),
        "still listening"
    );
    // While nothing listens the SDK waits for a connection (even with a fail-fast retry
    // strategy), so a caller must bound its operations; here: it does not succeed.
    let attempt = tokio::time::timeout(Duration::from_secs(2), coll.get("k", None)).await;
    assert!(
        !matches!(attempt, Ok(Ok(_))),
        "an op succeeded while stopped"
    );

    server.restart().await.expect("restart");
    let got = recovered(|| coll.get("k", None)).await;
    assert_eq!(
        got.content_as::<String>().expect("json"),
        "kept",
        "data lost over a restart"
    );
}
