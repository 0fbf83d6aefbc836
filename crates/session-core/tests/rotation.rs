//! Rotation in core, through `Manager::load`/`commit` on a multi-threaded runtime: racing
//! requests on the old cookie end on one ID with every write, a request that read the
//! session before the rotation lands its write on the new ID and cannot stretch the grace,
//! the forward record never holds a usable cookie value when IDs are hashed, and rotation
//! works on encrypted records and keeps a remembered session's lifetime.

// Test helpers outside #[test] functions panic on failure too: that is the point.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use session_core::{Manager, MockClock, Options, RawStore, SessionId};
use session_memory::MemoryStore;

const INTERVAL: Duration = Duration::from_secs(60);
const GRACE: Duration = Duration::from_secs(5);

fn manager(options: Options) -> (Manager, MockClock, Arc<MemoryStore>) {
    let clock = MockClock::new(1_000_000);
    let store = Arc::new(MemoryStore::default());
    let options = Options {
        rotation_interval: Some(INTERVAL),
        rotation_grace: GRACE,
        touch_interval: Duration::from_secs(1),
        ..options
    };
    let manager = Manager::with_store(options, store.clone(), Arc::new(clock.clone())).unwrap();
    (manager, clock, store)
}

fn pair(set_cookie: Option<String>) -> String {
    let set = set_cookie.expect("a Set-Cookie");
    set.split(';').next().unwrap().to_owned()
}

async fn create(m: &Manager) -> String {
    let s = m.load([]);
    s.set("seed", "x").await.unwrap();
    pair(s.commit().await.unwrap().set_cookie)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_requests_on_the_old_cookie_end_on_one_id_with_every_write() {
    let (m, clock, _) = manager(Options::default());
    for round in 0..20 {
        let old = create(&m).await;
        clock.advance(INTERVAL);
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let (m, old) = (m.clone(), old.clone());
                tokio::spawn(async move {
                    let s = m.load([old.as_str()]);
                    s.set(&format!("k{i}"), &i).await.unwrap();
                    pair(s.commit().await.unwrap().set_cookie)
                })
            })
            .collect();
        let mut ids = Vec::new();
        for task in tasks {
            ids.push(task.await.unwrap());
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "round {round}: forked into {ids:?}");
        assert_ne!(ids[0], old);
        let s = m.load([ids[0].as_str()]);
        let keys = s.keys().await.unwrap();
        for i in 0..16 {
            assert!(keys.contains(&format!("k{i}")), "round {round}: k{i} lost");
        }
        assert!(keys.contains(&"seed".to_owned()));
    }
}

#[tokio::test]
async fn a_request_loaded_before_the_rotation_writes_to_the_new_id_and_cannot_stretch_the_grace() {
    let (m, clock, store) = manager(Options::default());
    let old = create(&m).await;
    clock.advance(INTERVAL - Duration::from_secs(1));
    // Loaded just before the rotation is due: this request itself does not rotate.
    let stale = m.load([old.as_str()]);
    stale.get::<String>("seed").await.unwrap();
    let reader = m.load([old.as_str()]);
    reader.get::<String>("seed").await.unwrap();
    clock.advance(Duration::from_secs(1));
    let rotating = m.load([old.as_str()]);
    rotating.get::<String>("seed").await.unwrap();
    let new = pair(rotating.commit().await.unwrap().set_cookie);

    stale.set("late", "write").await.unwrap();
    assert_eq!(
        pair(stale.commit().await.unwrap().set_cookie),
        new,
        "the stale writer was not sent the new ID"
    );
    let s = m.load([new.as_str()]);
    assert_eq!(
        s.get::<String>("late").await.unwrap().as_deref(),
        Some("write")
    );

    // A read-only request that loaded the old ID commits after the rotation with an expiry
    // refresh due: it follows the rotation (and is sent the new ID) rather than refreshing
    // the old ID, which must still die when the grace ends.
    clock.advance(Duration::from_secs(2));
    assert_eq!(pair(reader.commit().await.unwrap().set_cookie), new);
    // A server whose clock runs behind does not see the rotation due, and refreshes the
    // expiry of the old ID's record instead: the grace, written in the forward record
    // itself, still ends on time.
    let old_id = SessionId::parse(old.split_once('=').unwrap().1, 32).unwrap();
    let far = 1_000_000 + 3_600_000;
    assert!(store.touch(&old_id, far, 3_600_000).await.unwrap());
    clock.advance(GRACE);
    let s = m.load([old.as_str()]);
    assert_eq!(s.get::<String>("seed").await.unwrap(), None);
    assert_eq!(s.commit().await.unwrap().set_cookie, None);
}

#[tokio::test]
async fn the_forward_record_holds_no_usable_cookie_value_with_hashed_ids() {
    let (m, clock, store) = manager(Options {
        hash_ids: true,
        ..Options::default()
    });
    let old = create(&m).await;
    clock.advance(INTERVAL);
    let s = m.load([old.as_str()]);
    s.get::<String>("seed").await.unwrap();
    let new = pair(s.commit().await.unwrap().set_cookie);
    let new_id = new.split_once('=').unwrap().1;
    let old_id = SessionId::parse(old.split_once('=').unwrap().1, 32).unwrap();
    // The old ID's record is under its hash, and is a forward record that does not name
    // the new ID in the clear; the new ID is no key either.
    let hashed = |id: &str| {
        let digest = hex::encode(<sha2::Sha512 as sha2::Digest>::digest(id.as_bytes()));
        SessionId::parse(&digest[..32], 32).unwrap()
    };
    assert!(store.read(&old_id).await.unwrap().is_none());
    let forward = store.read(&hashed(old_id.as_str())).await.unwrap().unwrap();
    assert_eq!(forward.body.first(), Some(&session_core::rotation::FORWARD));
    assert!(!forward.body.windows(32).any(|w| w == new_id.as_bytes()));
    let new_raw = SessionId::parse(new_id, 32).unwrap();
    assert!(store.read(&new_raw).await.unwrap().is_none());
    assert!(store.read(&hashed(new_id)).await.unwrap().is_some());
    let late = m.load([old.as_str()]);
    assert_eq!(
        late.get::<String>("seed").await.unwrap().as_deref(),
        Some("x")
    );
    assert_eq!(pair(late.commit().await.unwrap().set_cookie), new);
}

#[tokio::test]
async fn rotation_works_on_encrypted_records_and_keeps_a_remembered_lifetime() {
    let mut options = Options::default();
    options
        .set("ENCRYPTION_KEYS", &format!("1:{}", "ab".repeat(32)))
        .unwrap();
    let (m, clock, _) = manager(options);
    let s = m.load([]);
    s.set("seed", "x").await.unwrap();
    s.set_persistent(Duration::from_secs(600)).await.unwrap();
    let old = pair(s.commit().await.unwrap().set_cookie);

    clock.advance(INTERVAL);
    let s = m.load([old.as_str()]);
    s.get::<String>("seed").await.unwrap();
    let set = s.commit().await.unwrap().set_cookie.unwrap();
    assert!(set.contains("Max-Age=600"), "{set}");
    let new = pair(Some(set));
    assert_ne!(new, old);

    let late = m.load([old.as_str()]);
    assert_eq!(
        late.get::<String>("seed").await.unwrap().as_deref(),
        Some("x")
    );
    let set = late.commit().await.unwrap().set_cookie.unwrap();
    assert!(set.starts_with(&new) && set.contains("Max-Age="), "{set}");

    // The remembered lifetime moved with the rotation.
    let s = m.load([new.as_str()]);
    assert_eq!(
        s.lifetime().await.unwrap().map(|l| l.idle),
        Some(Duration::from_secs(600))
    );
}

#[tokio::test]
async fn a_rotation_reports_an_event_with_fingerprints_only() {
    let (m, clock, _) = manager(Options::default());
    let events = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = events.clone();
    m.set_event_hook(Arc::new(move |e: &session_core::Event| {
        seen.lock().unwrap().push(e.clone());
    }))
    .unwrap();
    let old = create(&m).await;
    clock.advance(INTERVAL);
    let s = m.load([old.as_str()]);
    s.get::<String>("seed").await.unwrap();
    let new = pair(s.commit().await.unwrap().set_cookie);
    let (old_id, new_id) = (
        SessionId::parse(old.split_once('=').unwrap().1, 32).unwrap(),
        SessionId::parse(new.split_once('=').unwrap().1, 32).unwrap(),
    );
    let events = events.lock().unwrap();
    assert!(
        events.contains(&session_core::Event::Rotated {
            from: old_id.fingerprint(),
            to: new_id.fingerprint(),
        }),
        "{events:?}"
    );
    let text = format!("{events:?}");
    assert!(!text.contains(old_id.as_str()) && !text.contains(new_id.as_str()));
}
