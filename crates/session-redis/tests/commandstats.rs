//! How many commands Redis itself runs for one session write, as `INFO commandstats` counts
//! them (a script is its `EVALSHA` plus every command inside it), on a private redis-server
//! whose statistics only this test touches. The proxy test in `commands.rs` counts round
//! trips; this one counts the work inside Redis.

// Test helpers outside #[test] functions panic on failure too: that is the point.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use session_core::{Clock, Manager, MockClock, Options, Registry, SessionId};
use session_redis::RedisProvider;
use session_redis::testing::{self, server::RedisServer};

/// An idle lifetime of 600 s gives the store a 60 s index slack (a tenth, at most 60 s).
const IDLE: Duration = Duration::from_secs(600);

struct Fixture {
    _server: RedisServer,
    admin: MultiplexedConnection,
    manager: Manager,
    clock: MockClock,
}

async fn fixture() -> Fixture {
    let server = RedisServer::start().unwrap();
    let client = redis::Client::open(format!("redis://{}/", server.addr())).unwrap();
    let admin = client.get_multiplexed_async_connection().await.unwrap();
    let registry = Registry::new().with(RedisProvider).unwrap();
    let options = Options {
        provider: "redis".into(),
        provider_config: format!("addr={}", server.addr()),
        max_lifetime: Some(IDLE),
        touch_interval: Duration::from_secs(10),
        ..Options::default()
    };
    let clock = MockClock::new(1_700_000_000_000);
    let manager = Manager::new_with_clock(options, &registry, Arc::new(clock.clone()))
        .await
        .unwrap();
    Fixture {
        _server: server,
        admin,
        manager,
        clock,
    }
}

impl Fixture {
    /// Zeroes the server's command statistics.
    async fn reset(&mut self) {
        redis::cmd("CONFIG")
            .arg("RESETSTAT")
            .query_async::<()>(&mut self.admin)
            .await
            .unwrap();
    }

    /// Commands run since the last reset, by name (`evalsha`, `get`, ...), leaving out the
    /// test's own `CONFIG RESETSTAT` and `INFO`.
    async fn commands(&mut self) -> BTreeMap<String, u64> {
        testing::commandstats(&mut self.admin)
            .await
            .unwrap()
            .into_iter()
            .filter(|(name, _)| !name.starts_with("config") && name != "info")
            .map(|(name, stat)| (name, stat.calls))
            .collect()
    }

    /// Microseconds Redis spent inside each command since the last reset (a script's
    /// include the commands it ran).
    async fn usec(&mut self) -> BTreeMap<String, u64> {
        testing::commandstats(&mut self.admin)
            .await
            .unwrap()
            .into_iter()
            .map(|(name, stat)| (name, stat.usec))
            .collect()
    }

    /// Redis' CPU time so far (`used_cpu_user` + `used_cpu_sys`), in µs.
    async fn cpu_us(&mut self) -> f64 {
        let info: String = redis::cmd("INFO")
            .arg("cpu")
            .query_async(&mut self.admin)
            .await
            .unwrap();
        info.lines()
            .filter_map(|line| {
                let (name, value) = line.split_once(':')?;
                (name == "used_cpu_user" || name == "used_cpu_sys")
                    .then(|| value.trim().parse::<f64>().unwrap())
            })
            .sum::<f64>()
            * 1e6
    }

    /// One request that sets `key` and, when `owner` is given, binds the session to it;
    /// returns the cookie.
    async fn write(&self, cookie: Option<&str>, key: &str, owner: Option<Option<&str>>) -> String {
        let session = self.manager.load(cookie);
        session.set(key, &self.clock.now()).await.unwrap();
        if let Some(owner) = owner {
            session.set_owner(owner).await.unwrap();
        }
        match session.commit().await.unwrap().set_cookie {
            Some(set_cookie) => set_cookie.split(';').next().unwrap().trim().to_owned(),
            None => cookie.unwrap().to_owned(),
        }
    }

    fn id(&self, cookie: &str) -> SessionId {
        let value = cookie.split_once('=').unwrap().1;
        SessionId::parse(value, self.manager.options().id_length).unwrap()
    }
}

fn total(commands: &BTreeMap<String, u64>) -> u64 {
    commands.values().sum()
}

fn commands(list: &[(&str, u64)]) -> BTreeMap<String, u64> {
    list.iter().map(|(n, c)| ((*n).to_owned(), *c)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_to_an_existing_session_runs_four_commands() {
    let mut f = fixture().await;
    let cookie = f.write(None, "a", None).await;

    f.reset().await;
    f.write(Some(&cookie), "b", None).await;
    let ran = f.commands().await;
    assert_eq!(
        ran,
        commands(&[("get", 1), ("evalsha", 1), ("getrange", 1), ("set", 1)]),
        "load (GET) + save script (EVALSHA: GETRANGE of the header, SET ... PX)"
    );
    assert_eq!(total(&ran), 4);

    // 30 s later the expiry is still in the same 60 s slack bucket: still no index write...
    f.clock.advance(Duration::from_secs(30));
    f.reset().await;
    f.write(Some(&cookie), "c", None).await;
    assert_eq!(total(&f.commands().await), 4);
    // ...so the index score lags the record by 30 s. Just past the score, the session is
    // still live: count includes it, GC keeps it, and its data is there.
    f.clock.advance(IDLE - Duration::from_secs(20));
    assert_eq!(f.manager.count().await.unwrap(), 1);
    assert_eq!(f.manager.gc().await.unwrap(), 0);
    let session = f.manager.load([cookie.as_str()]);
    assert!(session.get::<i64>("c").await.unwrap().is_some());
    drop(session);

    // Once the expiry moved by the slack or more (so into another bucket), the save writes
    // the index score too.
    let cookie = f.write(None, "a", None).await;
    f.clock.advance(Duration::from_secs(61));
    f.reset().await;
    f.write(Some(&cookie), "b", None).await;
    let ran = f.commands().await;
    assert_eq!(ran.get("zadd"), Some(&1), "{ran:?}");
    assert!(
        total(&ran) <= 6,
        "ZADD and PTTL on top of the four: {ran:?}"
    );

    // Past every stored expiry, both sessions are gone from count and GC removes them.
    f.clock.advance(IDLE + Duration::from_secs(1));
    assert_eq!(f.manager.count().await.unwrap(), 0);
    assert_eq!(f.manager.gc().await.unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_changes_keep_the_owner_index_right() {
    let mut f = fixture().await;
    let cookie = f.write(None, "a", Some(Some("alice"))).await;
    let id = f.id(&cookie);
    let other = f.write(None, "a", Some(Some("alice"))).await;
    assert_eq!(f.manager.owner_sessions("alice").await.unwrap().len(), 2);

    // An owned session written without an owner change costs no more than an unowned one.
    f.reset().await;
    f.write(Some(&cookie), "b", None).await;
    assert_eq!(total(&f.commands().await), 4);

    f.reset().await;
    f.write(Some(&cookie), "c", Some(Some("bob"))).await;
    let ran = f.commands().await;
    assert_eq!(ran.get("zrem"), Some(&1), "left alice's set: {ran:?}");
    assert_eq!(
        f.manager.owner_sessions("bob").await.unwrap(),
        vec![id.clone()]
    );
    assert_eq!(
        f.manager.owner_sessions("alice").await.unwrap(),
        vec![f.id(&other)]
    );
    assert_eq!(f.manager.count().await.unwrap(), 2);

    // Unbinding drops it from every owner's list; the session itself lives on.
    f.write(Some(&cookie), "d", Some(None)).await;
    assert!(f.manager.owner_sessions("bob").await.unwrap().is_empty());
    assert_eq!(f.manager.owner_sessions("alice").await.unwrap().len(), 1);
    assert_eq!(f.manager.count().await.unwrap(), 2);

    // Rebinding later (with the expiry moved too) lists it again, and destroying another
    // owner's sessions leaves it alone.
    f.clock.advance(Duration::from_secs(90));
    f.write(Some(&cookie), "e", Some(Some("bob"))).await;
    assert_eq!(f.manager.owner_sessions("bob").await.unwrap(), vec![id]);
    let session = f.manager.load([other.as_str()]);
    assert_eq!(session.destroy_other_sessions().await.unwrap(), 0);
    session.commit().await.unwrap();
    assert_eq!(f.manager.owner_sessions("bob").await.unwrap().len(), 1);
}

/// Redis' own CPU (`INFO cpu`, user + sys) and commands per write request over many writes to
/// existing sessions, printed for the record: CPU is a measurement, not asserted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cpu_per_write_is_reported() {
    const SESSIONS: usize = 50;
    const ROUNDS: usize = 40;
    let mut f = fixture().await;
    let mut cookies = Vec::new();
    for _ in 0..SESSIONS {
        cookies.push(f.write(None, "a", None).await);
    }
    f.reset().await;
    let before = f.cpu_us().await;
    for round in 0..ROUNDS {
        // Every round stores a new value (the time), so every request saves.
        f.clock.advance(Duration::from_millis(1));
        for cookie in &cookies {
            f.write(Some(cookie), &format!("k{}", round % 4), None)
                .await;
        }
    }
    let cpu = f.cpu_us().await - before;
    let writes = (SESSIONS * ROUNDS) as f64;
    let ran = f.commands().await;
    let usec = f.usec().await;
    let per_write = |name: &str| usec.get(name).copied().unwrap_or_default() as f64 / writes;
    println!(
        "writes: {writes}, commands per write request: {:.2} ({ran:?}), redis CPU per write: \
         {:.2} µs, inside the save script: {:.2} µs, inside the load: {:.2} µs",
        total(&ran) as f64 / writes,
        cpu / writes,
        per_write("evalsha"),
        per_write("get") + per_write("hmget") / 2.0, // old layout: half the HMGETs ran in the script
    );
    assert!(
        ran.get("evalsha").copied().unwrap_or_default() as f64 >= writes,
        "every request saved: {ran:?}"
    );
}
