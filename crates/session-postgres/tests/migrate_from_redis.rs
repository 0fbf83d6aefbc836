//! Moving 1,000 live sessions from Redis to PostgreSQL with `Migrating` while 16 clients
//! keep reading and writing them: no session lost, no key lost, no cookie changed.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use session_core::{Manager, Migrating, Provider as _, RawStore, SessionId};
use session_postgres::PostgresProvider;
use session_redis::{RedisProvider, testing as redis_testing};
use session_sqlx::testing;

const SESSIONS: usize = 1_000;
const CLIENTS: usize = 16;
const SEED_KEYS: usize = 3;
/// Sessions half of the clients' requests go to.
const HOT: usize = 32;
/// How long the clients run while sessions move (a workload length, not a threshold).
const RUN_FOR: Duration = Duration::from_secs(3);

/// Every key each session must hold, by cookie pair.
type Expected = Arc<Mutex<HashMap<String, BTreeMap<String, u64>>>>;

fn id_of(cookie: &str) -> SessionId {
    SessionId::parse(cookie.split_once('=').unwrap().1, 32).unwrap()
}

/// A small deterministic generator per client, so the clients pick sessions differently.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// One client: loads a random session by its cookie, checks it holds every key it had
/// when the client started, writes a key of its own, and commits; the cookie must never
/// change.
async fn client(
    n: usize,
    manager: Manager,
    cookies: Arc<Vec<String>>,
    expected: Expected,
) -> usize {
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64 ^ (n as u64 + 1);
    let started = Instant::now();
    let mut writes = 0;
    while started.elapsed() < RUN_FOR {
        // Half the picks go to a few hot sessions, so that moves collide.
        let pick = next(&mut rng);
        let range = if pick.is_multiple_of(2) {
            HOT
        } else {
            cookies.len()
        };
        let cookie = &cookies[((pick >> 1) % range as u64) as usize];
        let before = expected.lock().unwrap()[cookie].clone();
        let session = manager.load([cookie.as_str()]);
        for (key, value) in &before {
            assert_eq!(
                session.get::<u64>(key).await.unwrap(),
                Some(*value),
                "client {n}: key {key} of a session lost"
            );
        }
        let key = format!("c{n}_{writes}");
        let value = next(&mut rng);
        session.set(&key, &value).await.unwrap();
        assert_eq!(
            session.commit().await.unwrap().set_cookie,
            None,
            "cookie changed"
        );
        expected
            .lock()
            .unwrap()
            .get_mut(cookie)
            .unwrap()
            .insert(key, value);
        writes += 1;
    }
    writes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_live_sessions_move_from_redis_to_postgres_under_load() {
    redis_testing::require_redis(redis_testing::LOCAL_REDIS)
        .await
        .unwrap();
    let ctx = testing::context(1 << 20);
    let prefix = redis_testing::unique_prefix().unwrap();
    let redis = RedisProvider
        .open(
            &format!("addr={},prefix={prefix}", redis_testing::LOCAL_REDIS),
            &ctx,
        )
        .await
        .unwrap();
    let tables = common::Tables::default();
    let table = tables.add();
    let postgres = PostgresProvider
        .open(&format!("{}?table={table}&pool_size=8", common::URL), &ctx)
        .await
        .unwrap();

    // Before: the application on Redis alone, with 1,000 sessions.
    let before = testing::manager(redis.clone());
    let expected: Expected = Arc::default();
    let mut seeding = Vec::new();
    for part in 0..CLIENTS {
        let (manager, expected) = (before.clone(), expected.clone());
        seeding.push(tokio::spawn(async move {
            for i in (part..SESSIONS).step_by(CLIENTS) {
                let session = manager.load([]);
                let mut keys = BTreeMap::new();
                for k in 0..SEED_KEYS {
                    let value = (i * SEED_KEYS + k) as u64;
                    session.set(&format!("seed{k}"), &value).await.unwrap();
                    keys.insert(format!("seed{k}"), value);
                }
                let set_cookie = session.commit().await.unwrap().set_cookie.unwrap();
                expected
                    .lock()
                    .unwrap()
                    .insert(testing::cookie_pair(&set_cookie), keys);
            }
        }));
    }
    for task in seeding {
        task.await.unwrap();
    }
    let cookies: Arc<Vec<String>> = Arc::new(expected.lock().unwrap().keys().cloned().collect());
    assert_eq!(cookies.len(), SESSIONS);

    // After: every instance on `Migrating`; the clients keep going while sessions move.
    let migrating: Arc<dyn RawStore> = Arc::new(Migrating::new(redis.clone(), postgres.clone()));
    let after = testing::manager(migrating);
    let mut clients = Vec::new();
    for n in 0..CLIENTS {
        clients.push(tokio::spawn(client(
            n,
            after.clone(),
            cookies.clone(),
            expected.clone(),
        )));
    }
    let mut writes = 0;
    for task in clients {
        writes += task.await.unwrap();
    }
    // The sessions no client happened to write move on one last write each.
    for cookie in cookies.iter() {
        let session = after.load([cookie.as_str()]);
        session.set("final", &1u64).await.unwrap();
        assert_eq!(session.commit().await.unwrap().set_cookie, None);
        expected
            .lock()
            .unwrap()
            .get_mut(cookie)
            .unwrap()
            .insert("final".into(), 1);
    }
    println!("{writes} client writes during the move");

    // Every session, with every key, is in PostgreSQL, and none is left in Redis.
    let on_postgres = testing::manager(postgres.clone());
    let expected = expected.lock().unwrap().clone();
    for (cookie, keys) in &expected {
        let id = id_of(cookie);
        let data = on_postgres
            .read(id.as_str())
            .await
            .unwrap()
            .expect("session in PostgreSQL");
        assert_eq!(data.keys().count(), keys.len(), "keys of a session");
        for (key, value) in keys {
            assert_eq!(data.get::<u64>(key).unwrap(), Some(*value), "key {key}");
        }
        assert!(
            redis.read(&id).await.unwrap().is_none(),
            "a moved session left in Redis"
        );
    }
    assert_eq!(on_postgres.count().await.unwrap(), SESSIONS as u64);
    assert_eq!(before.count().await.unwrap(), 0);

    // Redis holds nothing of ours but index keys that expire on their own.
    before.gc().await.unwrap();
    tables.drop_all().await;
}
