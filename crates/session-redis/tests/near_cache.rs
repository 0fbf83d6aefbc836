//! The near cache (`near_cache=N`) against a private redis-server: store A caches, store B
//! (no cache, same prefix, as another process would) changes sessions behind its back.
//! Invalidation delays are measured and printed, never asserted.

// Test helpers outside #[test] functions panic on failure too: that is the point.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use session_core::{
    Inserted, Manager, Options, RawStore, Registry, Saved, SessionId, SystemClock, Write,
};
use session_redis::testing::{self, server::RedisServer};
use session_redis::{NEAR_CACHE_CONNECTION_NAME, NEAR_CACHE_MAX_AGE, RedisProvider, RedisStore};

/// How long a test waits for an invalidation; shorter than the cache's age limit, so an
/// entry that merely aged out never passes for an invalidated one.
const INVALIDATION_LIMIT: Duration = Duration::from_secs(2);

struct Fixture {
    _server: RedisServer,
    admin: MultiplexedConnection,
    /// A's store, with the cache.
    cached: Arc<RedisStore>,
    a: Manager,
    b: Manager,
}

fn options() -> Options {
    Options {
        provider: "redis".into(),
        hash_ids: false,
        ..Options::default()
    }
}

async fn fixture() -> Fixture {
    fixture_with(100).await
}

/// A fixture whose cache holds at most `capacity` sessions.
async fn fixture_with(capacity: usize) -> Fixture {
    assert!(INVALIDATION_LIMIT < NEAR_CACHE_MAX_AGE);
    let server = RedisServer::start().unwrap();
    let client = redis::Client::open(format!("redis://{}/", server.addr())).unwrap();
    let admin = client.get_multiplexed_async_connection().await.unwrap();
    let config = format!("addr={},prefix=near:,near_cache={capacity}", server.addr());
    let cached = Arc::new(
        RedisStore::open(config.parse().unwrap(), &session_redis::testing::context())
            .await
            .unwrap(),
    );
    let a = Manager::with_store(options(), cached.clone(), Arc::new(SystemClock)).unwrap();
    let registry = Registry::new().with(RedisProvider).unwrap();
    let b = Manager::new(
        Options {
            provider_config: format!("addr={},prefix=near:", server.addr()),
            ..options()
        },
        &registry,
    )
    .await
    .unwrap();
    Fixture {
        _server: server,
        admin,
        cached,
        a,
        b,
    }
}

fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().trim().to_owned()
}

fn id_of(cookie: &str) -> String {
    cookie.split_once('=').unwrap().1.to_owned()
}

impl Fixture {
    /// A new session made through `manager` holding `user`, bound to `owner` if given.
    async fn create(&self, manager: &Manager, user: &str, owner: Option<&str>) -> String {
        let session = manager.load([]);
        session.set("user", user).await.unwrap();
        if owner.is_some() {
            session.set_owner(owner).await.unwrap();
        }
        pair(&session.commit().await.unwrap().set_cookie.unwrap())
    }

    /// `user` as `manager` reads it (one request).
    async fn user(&self, manager: &Manager, cookie: &str) -> Option<String> {
        let session = manager.load([cookie]);
        let user = session.get::<String>("user").await.unwrap();
        session.commit().await.unwrap();
        user
    }

    fn is_cached(&self, cookie: &str) -> bool {
        self.cached.read_in_memory(&id_of(cookie)).is_some()
    }

    /// Reads through A so the session is cached, and checks that it is.
    async fn cache(&self, cookie: &str) -> Option<String> {
        let user = self.user(&self.a, cookie).await;
        assert!(self.is_cached(cookie), "A's read did not cache the session");
        user
    }

    /// Waits until A's cache no longer answers for `cookie`; returns how long that took.
    async fn invalidated(&self, cookie: &str, since: Instant) -> Duration {
        while self.is_cached(cookie) {
            assert!(
                since.elapsed() < INVALIDATION_LIMIT,
                "no invalidation within {INVALIDATION_LIMIT:?}"
            );
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        since.elapsed()
    }

    /// How many `GET`s the server has run so far.
    async fn gets(&mut self) -> u64 {
        let stats = testing::commandstats(&mut self.admin).await.unwrap();
        stats.get("get").map_or(0, |stat| stat.calls)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_read_costs_no_command() {
    let mut f = fixture().await;
    let cookie = f.create(&f.b, "alice", None).await;
    assert_eq!(f.cache(&cookie).await.as_deref(), Some("alice"));
    let before = f.gets().await;
    for _ in 0..10 {
        assert_eq!(f.user(&f.a, &cookie).await.as_deref(), Some("alice"));
    }
    assert_eq!(f.gets().await, before, "cached reads went to Redis");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_cache_makes_room_by_dropping_the_session_cached_first() {
    let mut f = fixture_with(2).await;
    let first = f.create(&f.b, "alice", None).await;
    let second = f.create(&f.b, "bob", None).await;
    let third = f.create(&f.b, "carol", None).await;
    f.cache(&first).await;
    f.cache(&second).await;
    f.cache(&third).await;
    assert!(
        !f.is_cached(&first),
        "the session cached first is still cached"
    );
    assert!(f.is_cached(&second) && f.is_cached(&third));
    let before = f.gets().await;
    assert_eq!(f.user(&f.a, &second).await.as_deref(), Some("bob"));
    assert_eq!(f.user(&f.a, &third).await.as_deref(), Some("carol"));
    assert_eq!(f.gets().await, before, "a cached read went to Redis");
    assert_eq!(f.user(&f.a, &first).await.as_deref(), Some("alice"));
    assert_eq!(f.gets().await, before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_through_another_store_reach_the_cache() {
    let f = fixture().await;
    let cookie = f.create(&f.b, "alice", None).await;
    f.cache(&cookie).await;

    // A write through B.
    let session = f.b.load([cookie.as_str()]);
    session.set("user", "bob").await.unwrap();
    let since = Instant::now();
    session.commit().await.unwrap();
    let delay = f.invalidated(&cookie, since).await;
    println!("write through B reached A's cache after {delay:?}");
    assert_eq!(f.user(&f.a, &cookie).await.as_deref(), Some("bob"));

    // A destroy through B.
    f.cache(&cookie).await;
    let session = f.b.load([cookie.as_str()]);
    session.destroy().await.unwrap();
    let since = Instant::now();
    session.commit().await.unwrap();
    let delay = f.invalidated(&cookie, since).await;
    println!("destroy through B reached A's cache after {delay:?}");
    assert_eq!(f.user(&f.a, &cookie).await, None);

    // A regenerate through B: the old ID is gone for A, the new one carries the data.
    let cookie = f.create(&f.b, "carol", None).await;
    f.cache(&cookie).await;
    let session = f.b.load([cookie.as_str()]);
    session.get::<String>("user").await.unwrap();
    session.regenerate().await.unwrap();
    let since = Instant::now();
    let renewed = pair(&session.commit().await.unwrap().set_cookie.unwrap());
    let delay = f.invalidated(&cookie, since).await;
    println!("regenerate through B reached A's cache after {delay:?}");
    assert_eq!(f.user(&f.a, &cookie).await, None);
    assert_eq!(f.user(&f.a, &renewed).await.as_deref(), Some("carol"));

    // Logging an owner out everywhere through B.
    let first = f.create(&f.b, "dave", Some("dave")).await;
    let second = f.create(&f.b, "dave", Some("dave")).await;
    f.cache(&first).await;
    f.cache(&second).await;
    let since = Instant::now();
    assert_eq!(f.b.destroy_owner_sessions("dave", None).await.unwrap(), 2);
    let delay = f.invalidated(&first, since).await;
    let delay_second = f.invalidated(&second, since).await;
    println!("owner-wide destroy through B reached A's cache after {delay:?} / {delay_second:?}");
    assert_eq!(f.user(&f.a, &first).await, None);
    assert_eq!(f.user(&f.a, &second).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_tracking_connection_empties_the_cache() {
    let mut f = fixture().await;
    let cookie = f.create(&f.b, "alice", None).await;
    f.cache(&cookie).await;

    let clients: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut f.admin)
        .await
        .unwrap();
    let tracking: Vec<&str> = clients
        .lines()
        .filter(|line| line.contains(&format!(" name={NEAR_CACHE_CONNECTION_NAME} ")))
        .filter_map(|line| line.strip_prefix("id=")?.split(' ').next())
        .collect();
    assert_eq!(tracking.len(), 1, "{clients}");
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(tracking[0])
        .query_async(&mut f.admin)
        .await
        .unwrap();
    assert_eq!(killed, 1);
    let since = Instant::now();
    let delay = f.invalidated(&cookie, since).await;
    println!("the dropped tracking connection emptied the cache after {delay:?}");

    // Meanwhile B changes the session; nothing would tell A's dead connection about it.
    let session = f.b.load([cookie.as_str()]);
    session.set("user", "bob").await.unwrap();
    session.commit().await.unwrap();

    let before = f.gets().await;
    assert_eq!(f.user(&f.a, &cookie).await.as_deref(), Some("bob"));
    assert_eq!(
        f.gets().await,
        before + 1,
        "the read after the drop went to Redis"
    );
    // A new tracking connection is up, so the cache works again.
    assert!(f.is_cached(&cookie));
    assert_eq!(f.user(&f.a, &cookie).await.as_deref(), Some("bob"));
    assert_eq!(f.gets().await, before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conditional_save_never_succeeds_over_a_stale_cached_read() {
    let f = fixture().await;
    let other = f.b.store().raw().clone();
    let id = SessionId::generate(32).unwrap();
    let write = |body: &'static [u8]| Write {
        body,
        expires_at: i64::MAX / 2,
        ttl_ms: 60_000,
        owner: None,
    };
    let Inserted::Created(v1) = f.cached.insert(&id, write(b"one")).await.unwrap() else {
        panic!("insert did not create");
    };
    f.cached.read(&id).await.unwrap();
    let (_, seen) = f
        .cached
        .read_in_memory(id.as_str())
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(seen.version, v1);

    // B saves first; A saves on top of what it read, at once, before or after the
    // invalidation reached it: the compare in Redis refuses either way.
    let Saved::Saved(v2) = other.save(&id, v1, write(b"two")).await.unwrap() else {
        panic!("B's save did not succeed");
    };
    assert_eq!(
        f.cached
            .save(&id, seen.version, write(b"three"))
            .await
            .unwrap(),
        Saved::Conflict
    );
    let now = f.cached.read(&id).await.unwrap().unwrap();
    assert_eq!((now.version, &now.body[..]), (v2, &b"two"[..]));

    // Through the managers: A's request was loaded from the cache, B's change lands first,
    // and A's commit merges instead of overwriting it.
    let cookie = f.create(&f.b, "alice", None).await;
    f.cache(&cookie).await;
    let mine = f.a.load([cookie.as_str()]);
    mine.get::<String>("user").await.unwrap();
    let theirs = f.b.load([cookie.as_str()]);
    theirs.set("theme", "dark").await.unwrap();
    theirs.commit().await.unwrap();
    mine.set("lang", "fr").await.unwrap();
    mine.commit().await.unwrap();
    let check = f.b.load([cookie.as_str()]);
    assert_eq!(
        check.get::<String>("theme").await.unwrap().as_deref(),
        Some("dark")
    );
    assert_eq!(
        check.get::<String>("lang").await.unwrap().as_deref(),
        Some("fr")
    );
}
