//! Security properties that hold whatever the provider: hashed IDs at rest, signed cookies,
//! lifecycle events, and no raw ID in any log line.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::sync::{Arc, Mutex};

use session_core::{Event, Manager, MockClock, Options, RawStore, SessionId, SigningKeys};
use session_memory::MemoryStore;

fn manager(options: Options) -> (Manager, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::default());
    let manager =
        Manager::with_store(options, store.clone(), Arc::new(MockClock::default())).unwrap();
    (manager, store)
}

fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

async fn create(m: &Manager) -> String {
    let s = m.load([]);
    s.set("uid", "alice").await.unwrap();
    pair(&s.commit().await.unwrap().set_cookie.unwrap())
}

#[tokio::test]
async fn hashed_ids_keep_usable_values_out_of_the_store() {
    let (m, store) = manager(Options {
        hash_ids: true,
        ..Options::default()
    });
    let cookie = create(&m).await;
    let id = SessionId::parse(cookie.split_once('=').unwrap().1, 32).unwrap();
    assert!(
        !store.exist(&id).await.unwrap(),
        "the raw ID is a backend key"
    );
    assert_eq!(store.len(), 1);
    let s = m.load([cookie.as_str()]);
    assert_eq!(
        s.get::<String>("uid").await.unwrap().as_deref(),
        Some("alice")
    );
    s.regenerate().await.unwrap();
    let cookie = pair(&s.commit().await.unwrap().set_cookie.unwrap());
    assert_eq!(store.len(), 1);
    let s = m.load([cookie.as_str()]);
    s.destroy().await.unwrap();
    s.commit().await.unwrap();
    assert!(store.is_empty());
}

#[tokio::test]
async fn signed_cookies_verify_rotate_and_fail_closed() {
    let old_key = vec![1u8; 32];
    let options = Options {
        signing_keys: SigningKeys::new(vec![old_key.clone()]),
        ..Options::default()
    };
    let (m, store) = manager(options.clone());
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    m.set_event_hook(Arc::new(move |e: &Event| {
        sink.lock().unwrap().push(e.clone())
    }))
    .unwrap();
    let cookie = create(&m).await;
    assert!(cookie.contains('.'), "the cookie is not signed: {cookie}");

    // Tampered: one flipped character, or the bare ID without signature → a new session.
    let mut tampered = cookie.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let bare = cookie.split_once('.').unwrap().0.to_owned();
    for bad in [tampered.as_str(), bare.as_str()] {
        let s = m.load([bad]);
        assert_eq!(
            s.get::<String>("uid").await.unwrap(),
            None,
            "{bad} was accepted"
        );
    }
    assert!(events.lock().unwrap().contains(&Event::BadSignature));

    // Rotation: a manager whose first key is new still accepts cookies signed by the old one.
    let rotated = Options {
        signing_keys: SigningKeys::new(vec![vec![2u8; 32], old_key]),
        ..Options::default()
    };
    let m2 = Manager::with_store(rotated, store.clone(), Arc::new(MockClock::default())).unwrap();
    let s = m2.load([cookie.as_str()]);
    assert_eq!(
        s.get::<String>("uid").await.unwrap().as_deref(),
        Some("alice")
    );
    // A manager that dropped the old key refuses it.
    let dropped = Options {
        signing_keys: SigningKeys::new(vec![vec![2u8; 32]]),
        ..Options::default()
    };
    let m3 = Manager::with_store(dropped, store, Arc::new(MockClock::default())).unwrap();
    assert_eq!(
        m3.load([cookie.as_str()])
            .get::<String>("uid")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn lifecycle_events_reach_the_hook_without_raw_ids() {
    let (m, _) = manager(Options::default());
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    m.set_event_hook(Arc::new(move |e: &Event| {
        sink.lock().unwrap().push(e.clone())
    }))
    .unwrap();
    assert!(
        m.set_event_hook(Arc::new(|_: &Event| {})).is_err(),
        "a second hook replaced the first"
    );

    let cookie = create(&m).await;
    let raw = cookie.split_once('=').unwrap().1.to_owned();
    let unknown = format!(
        "MacaronSession={}",
        SessionId::generate(32).unwrap().as_str()
    );
    m.load([unknown.as_str()]).get::<String>("x").await.unwrap();
    let s = m.load([cookie.as_str()]);
    s.regenerate().await.unwrap();
    let cookie = pair(&s.commit().await.unwrap().set_cookie.unwrap());
    let s = m.load([cookie.as_str()]);
    s.destroy().await.unwrap();
    s.commit().await.unwrap();

    let events = events.lock().unwrap().clone();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e {
            Event::Created { .. } => "created",
            Event::UnknownId { .. } => "unknown",
            Event::Regenerated { .. } => "regenerated",
            Event::Destroyed { .. } => "destroyed",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["created", "unknown", "regenerated", "destroyed"]);
    assert!(!format!("{events:?}").contains(&raw));
}

#[tokio::test]
async fn duplicate_cookies_are_handled_deterministically() {
    let (m, store) = manager(Options::default());
    let a = create(&m).await;
    let s = m.load([]);
    s.set("uid", "bob").await.unwrap();
    let b = pair(&s.commit().await.unwrap().set_cookie.unwrap());
    let unknown = format!(
        "MacaronSession={}",
        SessionId::generate(32).unwrap().as_str()
    );

    // An unknown value before a valid one: the valid session is used, the unknown never adopted.
    for header in [format!("{unknown}; {a}"), format!("{a}; {unknown}")] {
        let s = m.load([header.as_str()]);
        assert_eq!(
            s.get::<String>("uid").await.unwrap().as_deref(),
            Some("alice"),
            "{header}"
        );
        assert_eq!(s.commit().await.unwrap().set_cookie, None);
    }
    // Two valid sessions: always the first, and their data never mixes.
    for (header, expected) in [(format!("{a}; {b}"), "alice"), (format!("{b}; {a}"), "bob")] {
        let s = m.load([header.as_str()]);
        assert_eq!(
            s.get::<String>("uid").await.unwrap().as_deref(),
            Some(expected)
        );
        s.set("seen", &true).await.unwrap();
        s.commit().await.unwrap();
    }
    assert_eq!(store.len(), 2);
    // Only unknown values: a new session with a new ID once it holds data.
    let s = m.load([format!("{unknown}; {unknown}").as_str()]);
    s.set("k", "v").await.unwrap();
    let issued = s.commit().await.unwrap().set_cookie.unwrap();
    assert!(!issued.contains(unknown.split_once('=').unwrap().1));
}

#[tokio::test]
async fn owners_are_checked_before_any_provider_sees_them() {
    let (m, _) = manager(Options::default());
    let s = m.load([]);
    for bad in ["", "a\0b", "line\nbreak", &"x".repeat(256)] {
        assert!(
            matches!(
                s.set_owner(Some(bad)).await,
                Err(session_core::Error::Encode { .. })
            ),
            "{bad:?} accepted"
        );
    }
    s.set_owner(Some(&"é".repeat(127))).await.unwrap();
    s.set_owner(Some("O'Brien \"$1\" ?")).await.unwrap();
}
