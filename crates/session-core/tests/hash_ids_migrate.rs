//! Turning `hash_ids` on for existing sessions: with `hash_ids_migrate`, a session written
//! under its raw ID stays valid and moves to its hashed key on first use.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::sync::Arc;

use session_core::{Clock, Manager, MockClock, Options, RawStore, SessionId};
use session_memory::MemoryStore;

fn manager(
    store: &Arc<MemoryStore>,
    clock: &Arc<MockClock>,
    hash_ids: bool,
    migrate: bool,
) -> Manager {
    let options = Options {
        hash_ids,
        hash_ids_migrate: migrate,
        ..Options::default()
    };
    Manager::with_store(options, store.clone(), clock.clone() as Arc<dyn Clock>).unwrap()
}

/// Sessions created with `hash_ids` off: their cookie pairs.
async fn sessions_before(manager: &Manager, n: usize) -> Vec<String> {
    let mut cookies = Vec::new();
    for i in 0..n {
        let session = manager.load([]);
        session.set("n", &i).await.unwrap();
        let set_cookie = session.commit().await.unwrap().set_cookie.unwrap();
        cookies.push(set_cookie.split(';').next().unwrap().to_owned());
    }
    cookies
}

fn id_of(cookie: &str) -> SessionId {
    SessionId::parse(cookie.split_once('=').unwrap().1, 32).unwrap()
}

#[tokio::test]
async fn sessions_from_before_hash_ids_stay_valid_and_move_to_their_hashed_key() {
    let store = Arc::new(MemoryStore::default());
    let clock = Arc::new(MockClock::default());
    let cookies = sessions_before(&manager(&store, &clock, false, false), 4).await;
    let hashed = manager(&store, &clock, true, true);

    // The first two are read only, the others written.
    for (i, cookie) in cookies.iter().enumerate() {
        let session = hashed.load([cookie.as_str()]);
        assert_eq!(
            session.get::<usize>("n").await.unwrap(),
            Some(i),
            "session {i}"
        );
        if i >= 2 {
            session.set("after", "yes").await.unwrap();
        }
        assert_eq!(
            session.commit().await.unwrap().set_cookie,
            None,
            "cookie {i} unchanged"
        );
    }
    // Every one now lives under its hashed key only; reading it again finds it there.
    for (i, cookie) in cookies.iter().enumerate() {
        let raw = id_of(cookie);
        assert!(
            store.read(&raw).await.unwrap().is_none(),
            "raw key {i} left behind"
        );
        let data = hashed.read(raw.as_str()).await.unwrap().unwrap();
        assert_eq!(data.get::<usize>("n").unwrap(), Some(i));
        assert_eq!(data.get::<String>("after").unwrap().is_some(), i >= 2);
    }
    assert_eq!(store.count(clock.now()).await.unwrap(), 4);

    // Once moved, the session no longer needs the migration switch.
    let plain_hashed = manager(&store, &clock, true, false);
    let session = plain_hashed.load([cookies[0].as_str()]);
    assert_eq!(session.get::<usize>("n").await.unwrap(), Some(0));
}

#[tokio::test]
async fn without_the_switch_turning_hash_ids_on_loses_the_session() {
    let store = Arc::new(MemoryStore::default());
    let clock = Arc::new(MockClock::default());
    let cookies = sessions_before(&manager(&store, &clock, false, false), 1).await;
    let session = manager(&store, &clock, true, false).load([cookies[0].as_str()]);
    assert_eq!(session.get::<usize>("n").await.unwrap(), None);
}

#[tokio::test]
async fn destroying_by_id_reaches_a_session_not_moved_yet() {
    let store = Arc::new(MemoryStore::default());
    let clock = Arc::new(MockClock::default());
    let cookies = sessions_before(&manager(&store, &clock, false, false), 1).await;
    let hashed = manager(&store, &clock, true, true);
    assert!(hashed.destroy_id(&id_of(&cookies[0])).await.unwrap());
    assert_eq!(store.count(clock.now()).await.unwrap(), 0);
    let session = hashed.load([cookies[0].as_str()]);
    assert_eq!(session.get::<usize>("n").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_uses_move_once_and_lose_no_write() {
    let store = Arc::new(MemoryStore::default());
    let clock = Arc::new(MockClock::default());
    let cookies = sessions_before(&manager(&store, &clock, false, false), 10).await;
    let hashed = manager(&store, &clock, true, true);
    let mut tasks = Vec::new();
    for writer in 0..6 {
        let (manager, cookies) = (hashed.clone(), cookies.clone());
        tasks.push(tokio::spawn(async move {
            for cookie in &cookies {
                let session = manager.load([cookie.as_str()]);
                session.set(&format!("w{writer}"), &writer).await.unwrap();
                assert_eq!(session.commit().await.unwrap().set_cookie, None);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    for (i, cookie) in cookies.iter().enumerate() {
        let data = hashed.read(id_of(cookie).as_str()).await.unwrap().unwrap();
        assert_eq!(data.get::<usize>("n").unwrap(), Some(i));
        for writer in 0..6 {
            assert_eq!(
                data.get::<usize>(&format!("w{writer}")).unwrap(),
                Some(writer)
            );
        }
    }
    assert_eq!(store.count(clock.now()).await.unwrap(), 10);
}

#[test]
fn the_switch_requires_hash_ids() {
    let options = Options {
        hash_ids_migrate: true,
        ..Options::default()
    };
    assert!(matches!(
        options.validate(),
        Err(session_core::Error::Config { field, .. }) if field == "hash_ids_migrate"
    ));
}
