//! `Migrating` (memory -> memory): the conformance suite, and what the suite cannot set up,
//! sessions that were in `from` before the migration started.

#![cfg(feature = "conformance")]
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use session_core::backend::Operation;
use session_core::conformance::{self, Call, Wrapper};
use session_core::migrating::FROM_TAG;
use session_core::{
    Error, Manager, Migrating, MockClock, MoveOn, Options, Provider as _, ProviderContext,
    RawStore, Result, Saved, SessionId, Version, Write, record,
};
use session_memory::{MemoryProvider, MemoryStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn migrating_passes_the_conformance_suite() {
    for move_on in [MoveOn::Write, MoveOn::Read] {
        let report = conformance::run(&move |ctx: ProviderContext| async move {
            let from = MemoryProvider.open("", &ctx).await?;
            let to = MemoryProvider.open("", &ctx).await?;
            let store: Arc<dyn RawStore> = Arc::new(
                Migrating::new(from, to)
                    .move_on(move_on)
                    .with_clock(ctx.clock.clone()),
            );
            Ok(store)
        })
        .await;
        println!("{move_on:?}\n{}", report.table());
        report.assert_passed();
    }
}

/// Two memory stores, a manager on `from` alone (the application before the migration) and
/// one on `Migrating` (after), sharing a mock clock.
struct Setup {
    from: Arc<MemoryStore>,
    to: Arc<MemoryStore>,
    before: Manager,
    after: Manager,
}

fn setup(move_on: MoveOn) -> Setup {
    setup_around(move_on, |from| from)
}

/// Like [`setup`], with `wrap` around `from` as `Migrating` sees it (faults, hooks).
fn setup_around(
    move_on: MoveOn,
    wrap: impl FnOnce(Arc<dyn RawStore>) -> Arc<dyn RawStore>,
) -> Setup {
    let clock = Arc::new(MockClock::default());
    let from = Arc::new(MemoryStore::default());
    let to = Arc::new(MemoryStore::default());
    let before = Manager::with_store(Options::default(), from.clone(), clock.clone()).unwrap();
    let store = Migrating::new(wrap(from.clone()), to.clone())
        .move_on(move_on)
        .with_clock(clock.clone());
    let after = Manager::with_store(Options::default(), Arc::new(store), clock).unwrap();
    Setup {
        from,
        to,
        before,
        after,
    }
}

/// A session created through `manager` holding `key = value`; returns its cookie pair.
async fn create(manager: &Manager, key: &str, value: &str) -> String {
    let session = manager.load([]);
    session.set(key, value).await.unwrap();
    let set_cookie = session.commit().await.unwrap().set_cookie.unwrap();
    set_cookie.split(';').next().unwrap().to_owned()
}

fn id_of(cookie: &str) -> SessionId {
    SessionId::parse(cookie.split_once('=').unwrap().1, 32).unwrap()
}

async fn holds(store: &dyn RawStore, id: &SessionId) -> bool {
    store
        .read(id)
        .await
        .unwrap()
        .is_some_and(|s| s.body != record::TOMBSTONE)
}

async fn get(manager: &Manager, cookie: &str, key: &str) -> Option<String> {
    let session = manager.load([cookie]);
    let value = session.get::<String>(key).await.unwrap();
    assert_eq!(session.commit().await.unwrap().set_cookie, None);
    value
}

#[tokio::test]
async fn a_session_in_from_is_found_and_moves_on_its_first_write() {
    let s = setup(MoveOn::Write);
    let cookie = create(&s.before, "user", "gopher").await;
    let id = id_of(&cookie);

    // Read only: found, not moved.
    assert_eq!(
        get(&s.after, &cookie, "user").await.as_deref(),
        Some("gopher")
    );
    assert!(holds(&*s.from, &id).await && !holds(&*s.to, &id).await);

    let session = s.after.load([cookie.as_str()]);
    session.set("cart", "3 items").await.unwrap();
    assert_eq!(
        session.commit().await.unwrap().set_cookie,
        None,
        "cookie unchanged"
    );
    assert!(holds(&*s.to, &id).await, "moved to `to`");
    assert!(
        s.from.read(&id).await.unwrap().is_none(),
        "gone from `from`"
    );
    assert_eq!(
        get(&s.after, &cookie, "user").await.as_deref(),
        Some("gopher")
    );
    assert_eq!(
        get(&s.after, &cookie, "cart").await.as_deref(),
        Some("3 items")
    );
}

#[tokio::test]
async fn move_on_read_moves_without_a_write() {
    let s = setup(MoveOn::Read);
    let cookie = create(&s.before, "user", "gopher").await;
    let id = id_of(&cookie);
    assert_eq!(
        get(&s.after, &cookie, "user").await.as_deref(),
        Some("gopher")
    );
    assert!(holds(&*s.to, &id).await);
    assert!(s.from.read(&id).await.unwrap().is_none());
    assert_eq!(
        get(&s.after, &cookie, "user").await.as_deref(),
        Some("gopher")
    );
}

#[tokio::test]
async fn two_writers_of_an_unmoved_session_both_land() {
    let s = setup(MoveOn::Write);
    let cookie = create(&s.before, "user", "gopher").await;
    // Both load the session while it is in `from`.
    let a = s.after.load([cookie.as_str()]);
    let b = s.after.load([cookie.as_str()]);
    assert!(a.contains("user").await.unwrap() && b.contains("user").await.unwrap());
    a.set("a", "1").await.unwrap();
    b.set("b", "2").await.unwrap();
    // `a` moves it; `b`'s move finds it in `to` already, conflicts and replays there.
    assert_eq!(a.commit().await.unwrap().set_cookie, None);
    assert_eq!(b.commit().await.unwrap().set_cookie, None);
    for (key, value) in [("user", "gopher"), ("a", "1"), ("b", "2")] {
        assert_eq!(
            get(&s.after, &cookie, key).await.as_deref(),
            Some(value),
            "{key}"
        );
    }
    assert!(s.from.read(&id_of(&cookie)).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_writers_of_unmoved_sessions_lose_nothing() {
    let s = setup(MoveOn::Write);
    let mut cookies = Vec::new();
    for n in 0..20 {
        cookies.push(create(&s.before, "n", &n.to_string()).await);
    }
    let mut tasks = Vec::new();
    for writer in 0..8 {
        let (manager, cookies) = (s.after.clone(), cookies.clone());
        tasks.push(tokio::spawn(async move {
            for cookie in &cookies {
                let session = manager.load([cookie.as_str()]);
                session.set(&format!("w{writer}"), "x").await.unwrap();
                assert_eq!(session.commit().await.unwrap().set_cookie, None);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    for (n, cookie) in cookies.iter().enumerate() {
        assert_eq!(get(&s.after, cookie, "n").await, Some(n.to_string()));
        for writer in 0..8 {
            assert!(get(&s.after, cookie, &format!("w{writer}")).await.is_some());
        }
        assert!(s.from.read(&id_of(cookie)).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn a_destroy_after_the_load_is_not_undone_by_the_move() {
    let s = setup(MoveOn::Write);
    let cookie = create(&s.before, "user", "gopher").await;
    let id = id_of(&cookie);
    let stale = s.after.load([cookie.as_str()]);
    assert!(stale.contains("user").await.unwrap());
    // Logout elsewhere, then the stale request writes.
    assert!(s.after.destroy_id(&id).await.unwrap());
    stale.set("late", "write").await.unwrap();
    stale.commit().await.unwrap();
    assert!(!holds(&*s.to, &id).await && !holds(&*s.from, &id).await);
    assert_eq!(get(&s.after, &cookie, "user").await, None);
}

type Hook = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;
type HookSlot = Arc<Mutex<Option<Hook>>>;

/// Runs the hook in its slot once, on the first tombstone `Migrating` writes into the
/// wrapped `from` store, just before that write: the moment between a move's two steps.
struct BeforeRetire {
    inner: Arc<dyn RawStore>,
    hook: HookSlot,
}

impl Wrapper for BeforeRetire {
    fn inner(&self) -> &dyn RawStore {
        &*self.inner
    }

    async fn save(&self, id: &SessionId, expected: Version, record: Write<'_>) -> Result<Saved> {
        let hook = if record.body == record::TOMBSTONE {
            self.hook.lock().unwrap().take()
        } else {
            None
        };
        if let Some(hook) = hook {
            hook().await;
        }
        self.inner.save(id, expected, record).await
    }
}

/// What the hook of [`move_with`] gets: the `from` store, the session's ID, and a way to
/// write to the copy a move has just put in `to`.
struct During {
    from: Arc<MemoryStore>,
    id: SessionId,
    to: Arc<MemoryStore>,
    clock: Arc<dyn session_core::Clock>,
    cookie: String,
}

impl During {
    /// A request writing `b` straight to `to`, on the copy.
    async fn write_to_copy(self) {
        let direct = Manager::with_store(Options::default(), self.to, self.clock).unwrap();
        let session = direct.load([self.cookie.as_str()]);
        assert!(
            session.contains("user").await.unwrap(),
            "the copy is visible"
        );
        session.set("b", "on the copy").await.unwrap();
        assert_eq!(session.commit().await.unwrap().set_cookie, None);
    }
}

/// Creates a session in `from`, then writes `a` to it through `Migrating`, running `hook`
/// between the move's insert into `to` and its retiring save in `from`. Returns the setup,
/// the cookie and the session's ID.
async fn move_with<F>(hook: impl FnOnce(During) -> F + Send + 'static) -> (Setup, String, SessionId)
where
    F: Future<Output = ()> + Send + 'static,
{
    let slot: HookSlot = Arc::default();
    let in_wrapper = slot.clone();
    let s = setup_around(MoveOn::Write, move |inner| {
        Arc::new(BeforeRetire {
            inner,
            hook: in_wrapper,
        })
    });
    let cookie = create(&s.before, "user", "gopher").await;
    let id = id_of(&cookie);
    let during = During {
        from: s.from.clone(),
        id: id.clone(),
        to: s.to.clone(),
        clock: s.after.clock().clone(),
        cookie: cookie.clone(),
    };
    *slot.lock().unwrap() = Some(Box::new(move || Box::pin(hook(during))));
    let session = s.after.load([cookie.as_str()]);
    session.set("a", "mover").await.unwrap();
    assert_eq!(session.commit().await.unwrap().set_cookie, None);
    assert!(slot.lock().unwrap().is_none(), "the hook ran");
    (s, cookie, id)
}

/// A move that read the record before a destroy, and a request that wrote to its copy in
/// `to` before the move lost: the copy goes, with that write.
#[tokio::test]
async fn a_destroy_during_a_move_wins_over_writes_to_the_copy() {
    let (s, cookie, id) = move_with(|during| async move {
        assert!(during.from.destroy(&during.id).await.unwrap());
        during.write_to_copy().await;
    })
    .await;
    assert!(
        s.to.read(&id).await.unwrap().is_none(),
        "no resurrection in `to`"
    );
    assert!(s.from.read(&id).await.unwrap().is_none());
    assert_eq!(get(&s.after, &cookie, "user").await, None);
}

/// A move whose retiring save conflicts because `from`'s version changed (memcached and
/// Couchbase change it on an expiry refresh), after a request wrote to its copy: the copy
/// is the session, `from` is retired, and the move's own write is replayed on it.
#[tokio::test]
async fn a_version_change_during_a_move_keeps_every_write() {
    let (s, cookie, id) = move_with(|during| async move {
        let stored = during.from.read(&during.id).await.unwrap().unwrap();
        let write = Write {
            body: &stored.body,
            expires_at: stored.expires_at,
            ttl_ms: 60_000,
            owner: None,
        };
        let saved = during.from.save(&during.id, stored.version, write).await;
        assert!(matches!(saved, Ok(Saved::Saved(_))));
        during.write_to_copy().await;
    })
    .await;
    for (key, value) in [("user", "gopher"), ("a", "mover"), ("b", "on the copy")] {
        assert_eq!(
            get(&s.after, &cookie, key).await.as_deref(),
            Some(value),
            "{key}"
        );
    }
    assert!(holds(&*s.to, &id).await);
    assert!(s.from.read(&id).await.unwrap().is_none(), "`from` retired");
}

/// A stale save (its version read from `from`) of a session destroyed meanwhile reports
/// it missing and leaves nothing behind.
#[tokio::test]
async fn a_stale_move_of_a_destroyed_session_writes_nothing() {
    let s = setup(MoveOn::Write);
    let cookie = create(&s.before, "user", "gopher").await;
    let id = id_of(&cookie);
    let store = s.after.store().raw().clone();
    let stored = store.read(&id).await.unwrap().unwrap();
    assert_ne!(
        stored.version.0 & FROM_TAG,
        0,
        "versions read from `from` are tagged"
    );
    assert!(store.destroy(&id).await.unwrap());
    let write = Write {
        body: &stored.body,
        expires_at: stored.expires_at,
        ttl_ms: 60_000,
        owner: None,
    };
    assert_eq!(
        store.save(&id, stored.version, write).await.unwrap(),
        Saved::Missing
    );
    assert!(s.to.read(&id).await.unwrap().is_none());
    assert!(s.from.read(&id).await.unwrap().is_none());
}

#[tokio::test]
async fn regenerate_of_an_unmoved_session_lands_in_to() {
    let s = setup(MoveOn::Write);
    let cookie = create(&s.before, "user", "gopher").await;
    let old = id_of(&cookie);
    let session = s.after.load([cookie.as_str()]);
    session.regenerate().await.unwrap();
    let set_cookie = session.commit().await.unwrap().set_cookie.unwrap();
    let fresh = set_cookie.split(';').next().unwrap().to_owned();
    let new = id_of(&fresh);
    assert_ne!(new, old);
    assert!(holds(&*s.to, &new).await);
    assert!(!holds(&*s.to, &old).await && !holds(&*s.from, &old).await);
    assert!(s.from.read(&old).await.unwrap().is_none());
    assert_eq!(
        get(&s.after, &fresh, "user").await.as_deref(),
        Some("gopher")
    );
    assert_eq!(get(&s.after, &cookie, "user").await, None);
}

#[tokio::test]
async fn count_and_owner_sessions_span_both_stores_once() {
    let s = setup(MoveOn::Write);
    let mut cookies = Vec::new();
    for manager in [&s.before, &s.before, &s.after] {
        let session = manager.load([]);
        session.set("k", "v").await.unwrap();
        session.set_owner(Some("alice")).await.unwrap();
        let set_cookie = session.commit().await.unwrap().set_cookie.unwrap();
        cookies.push(set_cookie.split(';').next().unwrap().to_owned());
    }
    assert_eq!(s.from.count(s.after.clock().now()).await.unwrap(), 2);
    assert_eq!(s.after.count().await.unwrap(), 3);
    let mut owned = s.after.owner_sessions("alice").await.unwrap();
    owned.sort();
    let mut expected: Vec<SessionId> = cookies.iter().map(|c| id_of(c)).collect();
    expected.sort();
    assert_eq!(owned, expected);

    // Move one: still three, each once.
    let session = s.after.load([cookies[0].as_str()]);
    session.set("k", "moved").await.unwrap();
    session.commit().await.unwrap();
    assert!(holds(&*s.to, &id_of(&cookies[0])).await);
    assert_eq!(s.after.count().await.unwrap(), 3);
    assert_eq!(s.after.owner_sessions("alice").await.unwrap().len(), 3);

    // Log out everywhere but the current session, across both stores.
    let keep = id_of(&cookies[1]);
    assert_eq!(
        s.after
            .destroy_owner_sessions("alice", Some(&keep))
            .await
            .unwrap(),
        2
    );
    assert_eq!(s.after.count().await.unwrap(), 1);
}

/// Fails every read of the wrapped store once `failing` is set.
struct Failing {
    inner: Arc<dyn RawStore>,
    failing: Arc<AtomicBool>,
}

impl Wrapper for Failing {
    fn inner(&self) -> &dyn RawStore {
        &*self.inner
    }

    fn on_call(&self, call: Call) -> Result<()> {
        if self.failing.load(Ordering::SeqCst) && call == Call::Op(Operation::Read) {
            return Err(Error::backend("memory", "injected failure"));
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_failing_from_is_a_typed_error_not_an_unknown_session() {
    let failing = Arc::new(AtomicBool::new(false));
    let flag = failing.clone();
    let s = setup_around(MoveOn::Write, move |inner| {
        Arc::new(Failing {
            inner,
            failing: flag,
        })
    });
    let cookie = create(&s.before, "user", "gopher").await;
    failing.store(true, Ordering::SeqCst);
    let session = s.after.load([cookie.as_str()]);
    match session.get::<String>("user").await {
        Err(e) => assert!(e.is_backend(), "{e:?}"),
        Ok(v) => panic!("a failing `from` read as {v:?}"),
    }
    failing.store(false, Ordering::SeqCst);
    assert_eq!(
        get(&s.after, &cookie, "user").await.as_deref(),
        Some("gopher")
    );
}

/// Sets the tag bit on every version the wrapped store hands out.
struct TagBitVersions(Arc<dyn RawStore>);

impl Wrapper for TagBitVersions {
    fn inner(&self) -> &dyn RawStore {
        &*self.0
    }

    async fn read(&self, id: &SessionId) -> Result<Option<session_core::Stored>> {
        Ok(self.0.read(id).await?.map(|stored| session_core::Stored {
            version: Version(stored.version.0 | FROM_TAG),
            ..stored
        }))
    }
}

#[tokio::test]
async fn a_store_using_the_tag_bit_is_refused_not_trusted() {
    let s = setup_around(MoveOn::Write, |inner| Arc::new(TagBitVersions(inner)));
    let cookie = create(&s.before, "user", "gopher").await;
    let session = s.after.load([cookie.as_str()]);
    assert!(matches!(
        session.get::<String>("user").await,
        Err(Error::Backend { .. })
    ));
}
