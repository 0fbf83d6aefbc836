//! What the provider writes, seen from the server: keys, expiry (including TTLs over the
//! 30-day line), touch, named collections. Runs against the in-repo test server, whose clock
//! the tests move.

mod common;

use std::sync::Arc;
use std::time::Duration;

use couchbase_testserver::{ManualClock, TestServer};
use session_core::{
    Clock as _, Inserted, Provider as _, ProviderContext, RawStore, SessionId, SystemClock, Write,
};
use session_couchbase::CouchbaseProvider;

const DAY_MS: i64 = 86_400_000;

fn ctx() -> ProviderContext {
    ProviderContext {
        clock: Arc::new(SystemClock),
        max_record_size: 64 * 1024,
        max_lifetime_ms: 3_600_000,
    }
}

async fn open(server: &TestServer, query: &str) -> Arc<dyn RawStore> {
    CouchbaseProvider
        .open(&common::local_config(server, query), &ctx())
        .await
        .expect("the provider opens")
}

fn write(body: &[u8], now: i64, ttl_ms: i64) -> Write<'_> {
    Write {
        body,
        expires_at: now + ttl_ms,
        ttl_ms,
        owner: None,
    }
}

/// A 60-day lifetime is over memcached's 30-day line, where expiry values turn into absolute
/// Unix times; sent as relative seconds it would expire at once (in 1970).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_day_lifetime_lasts_sixty_days() {
    let clock = ManualClock::starting_now();
    let server = common::server(clock.clone().into(), Vec::new()).await;
    let store = open(&server, "").await;
    let id = SessionId::generate(32).expect("id");
    let now = SystemClock.now();
    let created = store
        .insert(&id, write(b"body", now, 60 * DAY_MS))
        .await
        .expect("insert");
    assert!(matches!(created, Inserted::Created(_)));

    let doc = server
        .document(&format!("session:{}", id.as_str()))
        .expect("stored under the prefix");
    let expires = doc.expires_at_ms.expect("the document has a TTL");
    // The SDK turns the TTL into an absolute time from its own clock, in whole seconds.
    assert!(
        expires >= now - 1_000 + 60 * DAY_MS,
        "the document expires after {} days",
        (expires - now) / DAY_MS
    );
    clock.advance(Duration::from_millis(59 * DAY_MS as u64));
    let stored = store
        .read(&id)
        .await
        .expect("read")
        .expect("alive after 59 days");
    assert_eq!(
        stored.expires_at,
        now + 60 * DAY_MS,
        "core's expiry is kept in the document"
    );
    assert_eq!(&stored.body[..], b"body");
    clock.advance(Duration::from_millis(2 * DAY_MS as u64));
    assert_eq!(
        store.read(&id).await.expect("read"),
        None,
        "alive after 61 days"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_is_rounded_up_and_touch_moves_both_expiries() {
    let clock = ManualClock::starting_now();
    let server = common::server(clock.clone().into(), Vec::new()).await;
    let store = open(&server, "prefix=web%3Asess%3A").await;
    let id = SessionId::generate(32).expect("id");
    let key = format!("web:sess:{}", id.as_str());
    let now = SystemClock.now();
    let server_now = clock.now_ms();

    store
        .insert(&id, write(b"x", now, 1_500))
        .await
        .expect("insert");
    let doc = server
        .document(&key)
        .expect("stored under the configured prefix");
    assert_eq!(
        doc.expires_at_ms,
        Some(server_now + 2_000),
        "1.5 s must round up to 2 s"
    );

    assert!(
        store
            .touch(&id, now + 100_000, 100_000)
            .await
            .expect("touch")
    );
    let doc = server.document(&key).expect("still stored");
    assert_eq!(
        doc.expires_at_ms,
        Some(server_now + 100_000),
        "touch did not move the TTL"
    );
    let stored = store.read(&id).await.expect("read").expect("alive");
    assert_eq!(
        stored.expires_at,
        now + 100_000,
        "touch did not move the stored expiry"
    );
    assert_eq!(&stored.body[..], b"x", "touch changed the data");

    clock.advance(Duration::from_millis(100_000));
    assert_eq!(store.read(&id).await.expect("read"), None);
    assert!(
        !store
            .touch(&id, now + 200_000, 100_000)
            .await
            .expect("touch"),
        "touch revived it"
    );
    assert_eq!(server.document_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_collection_holds_the_sessions() {
    let server = common::server(
        couchbase_testserver::Clock::system(),
        vec![("web".into(), "sessions".into())],
    )
    .await;
    let store = open(&server, "scope=web&collection=sessions").await;
    let id = SessionId::generate(32).expect("id");
    store
        .insert(&id, write(b"x", SystemClock.now(), 60_000))
        .await
        .expect("insert");
    let key = format!("session:{}", id.as_str());
    assert!(
        server.document_in("web", "sessions", &key).is_some(),
        "not in web.sessions"
    );
    assert!(
        server.document(&key).is_none(),
        "written to the default collection"
    );
    assert!(store.destroy(&id).await.expect("destroy"));
    assert!(!store.destroy(&id).await.expect("destroy"));
}

/// A JSON document at a session's key (another application, an older format) is not taken
/// for a session: it reads as expired, so core treats the ID as unknown and deletes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_document_reads_as_expired_and_is_discarded() {
    use couchbase::authenticator::PasswordAuthenticator;
    use couchbase::cluster::Cluster;
    use couchbase::options::cluster_options::ClusterOptions;

    let server = common::server(couchbase_testserver::Clock::system(), Vec::new()).await;
    let store = open(&server, "").await;
    let id = SessionId::generate(32).expect("id");
    let key = format!("session:{}", id.as_str());
    let options =
        ClusterOptions::new(PasswordAuthenticator::new(common::USER, common::PASSWORD).into());
    let cluster = tokio::time::timeout(
        Duration::from_secs(30),
        Cluster::connect(server.url(), options),
    )
    .await
    .expect("connect returned")
    .expect("connected");
    let coll = cluster.bucket(common::BUCKET).default_collection();
    coll.upsert(&key, serde_json::json!({"user": "mallory"}), None)
        .await
        .expect("upsert");

    let stored = store
        .read(&id)
        .await
        .expect("read")
        .expect("the document is there");
    assert_eq!(
        stored.expires_at,
        i64::MIN,
        "a foreign document must read as expired"
    );

    let options = session_core::Options::default();
    let manager =
        session_core::Manager::with_store(options.clone(), store.clone(), Arc::new(SystemClock))
            .expect("manager");
    let cookie = format!("{}={}", options.cookie_name, id.as_str());
    let s = manager.load([cookie.as_str()]);
    assert!(
        s.keys().await.expect("keys").is_empty(),
        "foreign data was loaded"
    );
    s.commit().await.expect("commit");
    assert!(
        server.document(&key).is_none(),
        "the foreign document was not discarded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixes_isolate_stores() {
    let server = common::server(couchbase_testserver::Clock::system(), Vec::new()).await;
    let a = open(&server, "prefix=a%3A").await;
    let b = open(&server, "prefix=b%3A").await;
    let id = SessionId::generate(32).expect("id");
    a.insert(&id, write(b"a", SystemClock.now(), 60_000))
        .await
        .expect("insert");
    assert!(
        b.read(&id).await.expect("read").is_none(),
        "b sees a's session"
    );
    assert!(!b.destroy(&id).await.expect("destroy"));
    assert!(a.read(&id).await.expect("read").is_some());
    assert!(server.document(&format!("a:{}", id.as_str())).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_record_limit_is_a_config_error() {
    let server = common::server(couchbase_testserver::Clock::system(), Vec::new()).await;
    let ctx = ProviderContext {
        max_record_size: 20 * 1024 * 1024,
        ..ctx()
    };
    match CouchbaseProvider
        .open(&common::local_config(&server, ""), &ctx)
        .await
    {
        Err(session_core::Error::Config { field, .. }) => assert_eq!(field, "max_record_size"),
        other => panic!("expected a config error, got {:?}", other.err()),
    }
}
