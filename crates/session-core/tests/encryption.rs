//! Encryption at rest: what the backend holds, key rotation, records that do not decrypt
//! (removed key, tampering, copied to another ID, plaintext), the tombstone, and turning
//! encryption on over live plaintext sessions.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::sync::{Arc, Mutex};

use session_core::encryption::{FORMAT_ENCRYPTED, OVERHEAD};
use session_core::record::{FORMAT_V1, TOMBSTONE};
use session_core::{
    Bytes, Encrypted, EncryptionKeys, Error, Event, Inserted, Manager, MockClock, Moved, Options,
    RawStore, SessionId, Write,
};
use session_memory::MemoryStore;

const LIVE: i64 = i64::MAX / 2;

fn keys(ids: &[u8]) -> EncryptionKeys {
    EncryptionKeys::new(ids.iter().map(|&id| (id, [id.wrapping_mul(17); 32]))).unwrap()
}

fn encrypted(inner: &Arc<MemoryStore>, ids: &[u8]) -> Encrypted {
    Encrypted::new(inner.clone(), keys(ids)).unwrap()
}

fn write(body: &[u8]) -> Write<'_> {
    Write {
        body,
        expires_at: LIVE,
        ttl_ms: 60_000,
        owner: None,
    }
}

fn id() -> SessionId {
    SessionId::generate(32).unwrap()
}

/// What the backend holds under `id`.
async fn raw(inner: &MemoryStore, id: &SessionId) -> Bytes {
    inner.read(id).await.unwrap().unwrap().body
}

/// A manager over `store` with `options`, recording its events.
fn manager(options: Options, store: Arc<MemoryStore>) -> (Manager, Arc<Mutex<Vec<Event>>>) {
    let manager = Manager::with_store(options, store, Arc::new(MockClock::default())).unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    manager
        .set_event_hook(Arc::new(move |e: &Event| {
            sink.lock().unwrap().push(e.clone())
        }))
        .unwrap();
    (manager, events)
}

fn with_keys(ids: &[u8]) -> Options {
    Options {
        encryption_keys: keys(ids),
        ..Options::default()
    }
}

/// The session ID and `name=value` pair of a new session holding `key = value`.
async fn create(m: &Manager, key: &str, value: &str) -> (SessionId, String) {
    let s = m.load([]);
    s.set(key, value).await.unwrap();
    let set = s.commit().await.unwrap().set_cookie.unwrap();
    let pair = set.split(';').next().unwrap().to_owned();
    let id = SessionId::parse(pair.split_once('=').unwrap().1, 32).unwrap();
    (id, pair)
}

/// Loads `cookie` and reads `key`; also returns the cookie the commit sets, if any.
async fn get(m: &Manager, cookie: &str, key: &str) -> (Option<String>, Option<String>) {
    let s = m.load([cookie]);
    let value = s.get::<String>(key).await.unwrap();
    s.set("touched", &true).await.unwrap();
    (value, s.commit().await.unwrap().set_cookie)
}

fn corrupt_events(events: &Mutex<Vec<Event>>) -> usize {
    events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Event::Corrupt { .. }))
        .count()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn bodies_round_trip_and_the_backend_holds_only_ciphertext() {
    let inner = Arc::new(MemoryStore::default());
    let store = encrypted(&inner, &[1]);
    let id = id();
    let body = b"\x01a body the backend must not see";
    assert!(matches!(
        store.insert(&id, write(body)).await.unwrap(),
        Inserted::Created(_)
    ));
    assert_eq!(&store.read(&id).await.unwrap().unwrap().body[..], body);
    let (own, stored) = store.read_in_memory(id.as_str()).unwrap().unwrap().unwrap();
    assert_eq!(own, id);
    assert_eq!(&stored.body[..], body, "the synchronous read decrypts too");

    let held = raw(&inner, &id).await;
    assert_eq!(held.len(), body.len() + OVERHEAD);
    assert_eq!(&held[..2], &[FORMAT_ENCRYPTED, 1]);
    assert!(!contains(&held, b"must not see"));

    // Two writes of one body under one key differ: every write has a fresh nonce.
    let other = self::id();
    store.insert(&other, write(body)).await.unwrap();
    assert_ne!(raw(&inner, &other).await[2..], held[2..]);
}

#[tokio::test]
async fn a_manager_with_keys_stores_no_plaintext_key_or_value() {
    let inner = Arc::new(MemoryStore::default());
    let (m, _) = manager(with_keys(&[9]), inner.clone());
    let (id, cookie) = create(&m, "distinctive-key-4f1e", "distinctive-value-93ab").await;
    let s = m.load([cookie.as_str()]);
    s.set_owner(Some("owner-name")).await.unwrap();
    s.commit().await.unwrap();

    let held = raw(&inner, &id).await;
    assert_eq!(held[0], FORMAT_ENCRYPTED);
    for plain in [
        &b"distinctive-key-4f1e"[..],
        b"distinctive-value-93ab",
        b"owner-name",
    ] {
        assert!(!contains(&held, plain), "{:?} in the stored record", plain);
    }
    assert_eq!(
        get(&m, &cookie, "distinctive-key-4f1e").await.0.as_deref(),
        Some("distinctive-value-93ab")
    );
}

#[tokio::test]
async fn rotation_decrypts_with_an_old_key_and_writes_with_the_first() {
    let inner = Arc::new(MemoryStore::default());
    let (old, _) = manager(with_keys(&[1]), inner.clone());
    let (id, cookie) = create(&old, "k", "written under key 1").await;
    assert_eq!(raw(&inner, &id).await[1], 1);

    let (rotated, events) = manager(with_keys(&[2, 1]), inner.clone());
    let (value, set_cookie) = get(&rotated, &cookie, "k").await;
    assert_eq!(value.as_deref(), Some("written under key 1"));
    assert_eq!(set_cookie, None, "the session was kept");
    assert_eq!(raw(&inner, &id).await[1], 2, "the write used the first key");
    assert_eq!(corrupt_events(&events), 0);

    let store = encrypted(&inner, &[2, 1]);
    let fresh = self::id();
    store.insert(&fresh, write(b"new")).await.unwrap();
    assert_eq!(raw(&inner, &fresh).await[1], 2);
}

#[tokio::test]
async fn a_record_under_a_removed_key_reads_as_absent_with_an_event() {
    let inner = Arc::new(MemoryStore::default());
    let (old, _) = manager(with_keys(&[1]), inner.clone());
    let (id, cookie) = create(&old, "k", "v").await;

    let (m, events) = manager(with_keys(&[2]), inner.clone());
    let (value, set_cookie) = get(&m, &cookie, "k").await;
    assert_eq!(value, None);
    let set_cookie = set_cookie.expect("a new session gets a new cookie");
    assert!(!set_cookie.contains(id.as_str()), "the old ID was adopted");
    assert_eq!(corrupt_events(&events), 1);
    // Core deletes a record it judged corrupt.
    assert!(!inner.exist(&id).await.unwrap());

    assert!(matches!(
        encrypted(&inner, &[2])
            .read(&create(&old, "k", "v").await.0)
            .await,
        Err(Error::Corrupt(_))
    ));
    assert!(m.read(id.as_str()).await.unwrap().is_none());
}

#[tokio::test]
async fn a_record_copied_to_another_id_does_not_decrypt() {
    let inner = Arc::new(MemoryStore::default());
    let (m, events) = manager(with_keys(&[1]), inner.clone());
    let (id, _) = create(&m, "k", "v").await;
    let copy = self::id();
    inner
        .insert(&copy, write(&raw(&inner, &id).await))
        .await
        .unwrap();

    let store = encrypted(&inner, &[1]);
    assert!(matches!(store.read(&copy).await, Err(Error::Corrupt(_))));
    assert!(matches!(
        store.read_in_memory(copy.as_str()),
        Some(Err(Error::Corrupt(_)))
    ));
    let cookie = format!("{}={}", m.options().cookie_name, copy.as_str());
    assert_eq!(get(&m, &cookie, "k").await.0, None);
    assert_eq!(corrupt_events(&events), 1);
    assert!(
        store.read(&id).await.unwrap().is_some(),
        "the original is intact"
    );
}

#[tokio::test]
async fn tampered_records_do_not_decrypt() {
    let inner = Arc::new(MemoryStore::default());
    let store = encrypted(&inner, &[1, 2]);
    let id = id();
    store.insert(&id, write(b"\x01body")).await.unwrap();
    let held = raw(&inner, &id).await;
    let mut cases = Vec::new();
    for at in [1, 2, 30, held.len() - 1] {
        // At 1: the key ID names the other configured key, which is bound in the AAD too.
        let mut bad = held.to_vec();
        bad[at] ^= if at == 1 { 3 } else { 0x40 };
        cases.push(bad);
    }
    cases.push(held[..OVERHEAD - 1].to_vec());
    for bad in cases {
        let target = self::id();
        inner.insert(&target, write(&bad)).await.unwrap();
        assert!(
            matches!(store.read(&target).await, Err(Error::Corrupt(_))),
            "{bad:?}"
        );
    }
}

#[tokio::test]
async fn tombstones_pass_through_both_ways() {
    let inner = Arc::new(MemoryStore::default());
    let store = encrypted(&inner, &[1]);
    let id = id();
    store.insert(&id, write(TOMBSTONE)).await.unwrap();
    assert_eq!(&raw(&inner, &id).await[..], TOMBSTONE);
    assert_eq!(&store.read(&id).await.unwrap().unwrap().body[..], TOMBSTONE);
}

#[tokio::test]
async fn regenerate_seals_the_record_under_the_new_id() {
    let inner = Arc::new(MemoryStore::default());
    let store = encrypted(&inner, &[1]);
    let (old, new) = (id(), id());
    let Inserted::Created(version) = store.insert(&old, write(b"\x01old")).await.unwrap() else {
        panic!("not created");
    };
    assert!(matches!(
        store
            .regenerate(&old, version, &new, write(b"\x01moved"))
            .await
            .unwrap(),
        Moved::Moved(_)
    ));
    assert_eq!(
        &store.read(&new).await.unwrap().unwrap().body[..],
        b"\x01moved"
    );
    assert!(store.read(&old).await.unwrap().is_none());

    // Through a manager: the session keeps its data under its new cookie.
    let (m, events) = manager(with_keys(&[1]), inner.clone());
    let (_, cookie) = create(&m, "k", "v").await;
    let s = m.load([cookie.as_str()]);
    s.regenerate().await.unwrap();
    let set = s.commit().await.unwrap().set_cookie.unwrap();
    let moved = set.split(';').next().unwrap();
    assert_eq!(get(&m, moved, "k").await.0.as_deref(), Some("v"));
    assert_eq!(corrupt_events(&events), 0);
}

#[tokio::test]
async fn plaintext_is_refused_unless_accepted_then_encrypted_on_its_next_write() {
    let inner = Arc::new(MemoryStore::default());
    let (plain, _) = manager(Options::default(), inner.clone());
    let (refused_id, refused) = create(&plain, "k", "plaintext value").await;
    let (id, cookie) = create(&plain, "k", "plaintext value").await;
    assert_eq!(raw(&inner, &id).await[0], FORMAT_V1);

    let (strict, events) = manager(with_keys(&[1]), inner.clone());
    assert_eq!(get(&strict, &refused, "k").await.0, None);
    assert_eq!(corrupt_events(&events), 1);
    assert!(!inner.exist(&refused_id).await.unwrap());

    let (migrating, events) = manager(
        Options {
            encryption_accept_plaintext: true,
            ..with_keys(&[1])
        },
        inner.clone(),
    );
    let s = migrating.load([cookie.as_str()]);
    assert_eq!(
        s.get::<String>("k").await.unwrap().as_deref(),
        Some("plaintext value")
    );
    assert_eq!(
        raw(&inner, &id).await[0],
        FORMAT_V1,
        "a read writes nothing"
    );
    s.set("k2", "second").await.unwrap();
    assert_eq!(s.commit().await.unwrap().set_cookie, None);
    let held = raw(&inner, &id).await;
    assert_eq!(held[0], FORMAT_ENCRYPTED);
    assert!(!contains(&held, b"plaintext value"));
    assert_eq!(corrupt_events(&events), 0);

    // Once written, the session reads without the switch.
    assert_eq!(
        get(&strict, &cookie, "k").await.0.as_deref(),
        Some("plaintext value")
    );
}

#[test]
fn options_take_keys_from_text_a_file_and_the_plaintext_switch() {
    let text = format!("3:{},1:{}", "c".repeat(64), "1".repeat(64));
    let mut o = Options::default();
    o.set("ENCRYPTION_KEYS", &text).unwrap();
    assert_eq!(o.encryption_keys.ids().collect::<Vec<_>>(), [3, 1]);
    assert!(!format!("{o:?}").contains(&"c".repeat(64)));

    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), format!("# rotated\n5:{}\n", "5".repeat(64))).unwrap();
    o.set("encryption-keys-file", file.path().to_str().unwrap())
        .unwrap();
    assert_eq!(o.encryption_keys.current_id(), Some(5));

    o.set("ENCRYPTION_ACCEPT_PLAINTEXT", "true").unwrap();
    o.validate().unwrap();
    o.set("ENCRYPTION_KEYS", "").unwrap();
    assert!(matches!(
        o.validate(),
        Err(Error::Config { field, .. }) if field == "encryption_accept_plaintext"
    ));
    match o.set("ENCRYPTION_KEYS", &format!("1:{}", "g".repeat(64))) {
        Err(Error::Config { field, message }) => {
            assert_eq!(field, "ENCRYPTION_KEYS");
            assert!(!message.contains("gggg"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn without_keys_the_manager_stores_plaintext_records() {
    let inner = Arc::new(MemoryStore::default());
    let m = Manager::with_store(
        Options::default(),
        inner.clone(),
        Arc::new(MockClock::default()),
    )
    .unwrap();
    let session = m.load([]);
    session.set("k", "v").await.unwrap();
    let cookie = session.commit().await.unwrap().set_cookie.unwrap();
    let value = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
    let stored = inner
        .read(&SessionId::parse_any(value).unwrap())
        .await
        .unwrap()
        .unwrap();
    // The record format byte, not the sealed one: no encryption layer sits in between.
    assert_eq!(stored.body[0], FORMAT_V1);
}

/// A provider that remembers the record limit it was opened with.
struct LimitProbe(Arc<Mutex<Option<usize>>>);

#[async_trait::async_trait]
impl session_core::Provider for LimitProbe {
    fn name(&self) -> &'static str {
        "limit-probe"
    }

    async fn open(
        &self,
        _config: &str,
        ctx: &session_core::ProviderContext,
    ) -> session_core::Result<Arc<dyn RawStore>> {
        *self.0.lock().unwrap() = Some(ctx.max_record_size);
        Ok(Arc::new(MemoryStore::default()))
    }
}

#[tokio::test]
async fn the_provider_is_told_the_limit_of_an_encrypted_record() {
    for (options, expected) in [
        (Options::default(), 1 << 20),
        (with_keys(&[1]), (1 << 20) + OVERHEAD),
    ] {
        let seen = Arc::new(Mutex::new(None));
        let registry = session_core::Registry::new()
            .with(LimitProbe(seen.clone()))
            .unwrap();
        let options = Options {
            provider: "limit-probe".into(),
            ..options
        };
        Manager::new(options, &registry).await.unwrap();
        assert_eq!(*seen.lock().unwrap(), Some(expected));
    }
}
