//! Scenarios the same for every SQL dialect, run by the providers' tests on a store or a
//! manager they opened.

use std::future::Future;
use std::time::Duration;

use session_core::{
    Error, Inserted, Manager, Moved, Provider, RawStore, Registry, Saved, SessionId, Write,
};

use super::{context, cookie_pair, create, options, write};
use crate::{Pool, SqlxProvider};

/// Runs every operation of `store` once, on an otherwise empty table; returns how many
/// operations that was. `regenerate` replaces a live record.
pub async fn every_operation(store: &dyn RawStore) -> usize {
    let id = SessionId::generate(32).unwrap_or_else(|e| panic!("an ID: {e}"));
    let new = SessionId::generate(32).unwrap_or_else(|e| panic!("an ID: {e}"));
    let ok = |what: &str, e: Error| -> ! { panic!("{what}: {e}") };
    let Inserted::Created(v) = store
        .insert(&id, write(b"a"))
        .await
        .unwrap_or_else(|e| ok("insert", e))
    else {
        panic!("insert did not create");
    };
    let read = store.read(&id).await.unwrap_or_else(|e| ok("read", e));
    assert!(read.is_some(), "read found nothing");
    assert!(store.exist(&id).await.unwrap_or_else(|e| ok("exist", e)));
    let saved = store.save(&id, v, write(b"b")).await;
    let Saved::Saved(v) = saved.unwrap_or_else(|e| ok("save", e)) else {
        panic!("save did not save");
    };
    let touched = store.touch(&id, i64::MAX - 1, 60_000).await;
    assert!(touched.unwrap_or_else(|e| ok("touch", e)), "touch missed");
    let regenerated = store.regenerate(&id, v, &new, write(b"c")).await;
    let Moved::Moved(_) = regenerated.unwrap_or_else(|e| ok("regenerate", e)) else {
        panic!("regenerate did not move");
    };
    assert!(store.count(0).await.unwrap_or_else(|e| ok("count", e)) >= 1);
    let owned = store.owner_sessions("alice", 0).await;
    let owned = owned.unwrap_or_else(|e| ok("owner_sessions", e));
    assert_eq!(owned, std::slice::from_ref(&new));
    assert_eq!(store.gc(0).await.unwrap_or_else(|e| ok("gc", e)), 0);
    assert!(
        store
            .destroy(&new)
            .await
            .unwrap_or_else(|e| ok("destroy", e))
    );
    10
}

/// The pool's only connection is held elsewhere: reads, commits (of a known and of a new
/// session), count and GC fail with [`Error::Backend`] and never send a cookie; once the
/// connection is back the same manager works and the session is intact.
///
/// `manager` must run on a store whose pool is `pool`, of size 1, with a short acquire
/// timeout.
pub async fn exhausted_pool_is_a_backend_error_and_recovers<P: SqlxProvider>(
    manager: &Manager,
    pool: &Pool<P>,
) {
    let cookie = create(manager, "v").await;

    // Another user of the pool holds its only connection.
    let held = pool
        .get()
        .await
        .unwrap_or_else(|e| panic!("the pool's connection: {e}"));

    let session = manager.load([cookie.as_str()]);
    let read = session.get::<String>("k").await;
    assert!(matches!(read, Err(Error::Backend { .. })), "{read:?}");
    assert!(
        session.commit().await.is_err(),
        "commit must fail, not send a cookie replacing the client's ID"
    );

    // A new session cannot be stored either: commit fails instead of handing out a cookie
    // for a session that does not exist.
    let fresh = manager.load([]);
    fresh
        .set("k", "new")
        .await
        .unwrap_or_else(|e| panic!("set: {e}"));
    let commit = fresh.commit().await;
    assert!(matches!(commit, Err(Error::Backend { .. })), "{commit:?}");

    assert!(matches!(manager.count().await, Err(Error::Backend { .. })));
    assert!(matches!(manager.gc().await, Err(Error::Backend { .. })));

    // The connection comes back: the same manager works, and the session is intact.
    drop(held);
    // Recovery is awaited, within a bound, rather than assumed to be instant: the pool may
    // have to check or replace the connection first.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let session = loop {
        let session = manager.load([cookie.as_str()]);
        match session.get::<String>("k").await {
            Ok(value) => {
                assert_eq!(value.as_deref(), Some("v"));
                break session;
            }
            Err(e) if e.is_backend() && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("the manager did not recover: {e}"),
        }
    };
    session
        .set("k", "after")
        .await
        .unwrap_or_else(|e| panic!("set: {e}"));
    let commit = session.commit().await;
    let set_cookie = commit.unwrap_or_else(|e| panic!("commit after recovery: {e}"));
    assert_eq!(set_cookie.set_cookie, None);
    let session = manager.load([cookie.as_str()]);
    let value = session.get::<String>("k").await;
    assert_eq!(
        value.unwrap_or_else(|e| panic!("read after recovery: {e}")),
        Some("after".to_owned())
    );
}

/// Requests on the session behind `cookie` (which holds `k = "v"`) run while `kill` has the
/// server kill the pool's connections and returns how many it killed. Every request either
/// reads `"v"` or fails with [`Error::Backend`] (an outage never looks like an unknown
/// session), and the same manager recovers afterwards, within a bound.
pub async fn killed_connections_give_backend_errors_then_recover(
    manager: &Manager,
    cookie: &str,
    kill: impl Future<Output = usize>,
) {
    let mut requests = Vec::new();
    for _ in 0..8 {
        let manager = manager.clone();
        let cookie = cookie.to_owned();
        requests.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for _ in 0..25 {
                let session = manager.load([cookie.as_str()]);
                let got = session.get::<String>("k").await;
                let _ = session.commit().await;
                outcomes.push(got);
                tokio::task::yield_now().await;
            }
            outcomes
        }));
    }
    let killed = kill.await;
    assert!(killed > 0, "no connection of the pool was killed");

    let mut errors = 0;
    for request in requests {
        let outcomes = request
            .await
            .unwrap_or_else(|e| panic!("a request task: {e}"));
        for outcome in outcomes {
            match outcome {
                Ok(value) => assert_eq!(
                    value.as_deref(),
                    Some("v"),
                    "an outage must never look like an unknown session"
                ),
                Err(e) => {
                    assert!(matches!(e, Error::Backend { .. }), "{e:?}");
                    errors += 1;
                }
            }
        }
    }
    println!("{killed} connections killed, {errors} requests failed with Error::Backend");

    // Recovery with the same manager (the pool reconnects on its own).
    let mut recovered = false;
    for _ in 0..20 {
        let session = manager.load([cookie]);
        if let Ok(value) = session.get::<String>("k").await {
            assert_eq!(value.as_deref(), Some("v"));
            recovered = session.commit().await.is_ok();
            if recovered {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(recovered, "the manager did not recover after the kill");
    let count = manager.count().await;
    assert!(count.unwrap_or_else(|e| panic!("count: {e}")) >= 1);
}

/// `provider` is registered under its name, and a manager opened by that name with
/// `config` stores a session and reads it back through the cookie it set. Returns the
/// manager and that cookie.
pub async fn registered_and_working<P: Provider + Clone>(
    provider: P,
    config: String,
) -> (Manager, String) {
    let name = provider.name();
    let registry = Registry::new()
        .with(provider)
        .unwrap_or_else(|e| panic!("registering {name}: {e}"));
    assert_eq!(registry.names(), [name]);
    let manager = Manager::new(options(name, config), &registry)
        .await
        .unwrap_or_else(|e| panic!("opening {name}: {e}"));
    let cookie = create(&manager, "gopher").await;
    let session = manager.load([cookie.as_str()]);
    let value = session.get::<String>("k").await;
    assert_eq!(
        value.unwrap_or_else(|e| panic!("read: {e}")).as_deref(),
        Some("gopher")
    );
    let count = manager.count().await;
    assert_eq!(count.unwrap_or_else(|e| panic!("count: {e}")), 1);
    (manager, cookie)
}

/// Opens `instances` stores with `provider` and `config` at once, as application instances
/// starting together do; each one names its provider and works on the same, empty table.
pub async fn open_instances<P: Provider + Clone>(provider: P, config: &str, instances: usize) {
    let opens: Vec<_> = (0..instances)
        .map(|_| {
            let (provider, config) = (provider.clone(), config.to_owned());
            tokio::spawn(async move { provider.open(&config, &context(1 << 20)).await })
        })
        .collect();
    for open in opens {
        let opened = open.await.unwrap_or_else(|e| panic!("an open task: {e}"));
        let store = opened.unwrap_or_else(|e| panic!("opening {}: {e}", provider.name()));
        assert_eq!(store.provider(), provider.name());
        let count = store.count(0).await;
        assert_eq!(count.unwrap_or_else(|e| panic!("count: {e}")), 0);
    }
}

/// A record with the longest ID core generates and an expiry far beyond 2038 is stored and
/// read back unchanged.
pub async fn longest_id_and_far_expiry_read_back(store: &dyn RawStore) {
    let id = SessionId::generate(128).unwrap_or_else(|e| panic!("an ID: {e}"));
    let write = Write {
        body: b"migrated",
        expires_at: i64::MAX,
        ttl_ms: 1,
        owner: None,
    };
    let inserted = store.insert(&id, write).await;
    inserted.unwrap_or_else(|e| panic!("insert: {e}"));
    let stored = store
        .read(&id)
        .await
        .unwrap_or_else(|e| panic!("read: {e}"));
    let stored = stored.unwrap_or_else(|| panic!("the record was not found"));
    assert_eq!(
        (&stored.body[..], stored.expires_at),
        (&b"migrated"[..], i64::MAX)
    );
}

/// A hostile cookie never becomes an ID, and `owner` (free text full of quotes and SQL) is
/// stored and matched verbatim, and only exactly. Leaves two sessions in the table: one
/// without an owner, one owned by `owner`; the caller checks the rows in its dialect.
pub async fn hostile_strings_are_bound_parameters(manager: &Manager, owner: &str) {
    // An ID cannot even be formed from a hostile cookie: it never reaches SQL.
    let session = manager.load(["MacaronSession=x'; DROP TABLE sessions;--"]);
    let read = session.get::<String>("k").await;
    assert_eq!(read.unwrap_or_else(|e| panic!("read: {e}")), None);
    let set = |result: session_core::Result<()>| result.unwrap_or_else(|e| panic!("set: {e}"));
    set(session.set("k", "v").await);
    let commit = session.commit().await;
    let set_cookie = commit.unwrap_or_else(|e| panic!("commit: {e}")).set_cookie;
    let set_cookie = set_cookie.unwrap_or_else(|| panic!("a new session sets a cookie"));
    assert!(!set_cookie.contains("DROP"), "{set_cookie}");

    let session = manager.load([]);
    set(session.set("uid", "x").await);
    set(session.set_owner(Some(owner)).await);
    let commit = session.commit().await;
    let set_cookie = commit.unwrap_or_else(|e| panic!("commit: {e}")).set_cookie;
    let cookie = cookie_pair(&set_cookie.unwrap_or_else(|| panic!("a new session sets a cookie")));
    let owner_sessions = |owner: &str| {
        let owner = owner.to_owned();
        async move {
            let listed = manager.owner_sessions(&owner).await;
            listed.unwrap_or_else(|e| panic!("owner_sessions: {e}"))
        }
    };
    let listed = owner_sessions(owner).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        format!("MacaronSession={}", listed[0].as_str()),
        cookie,
        "the listed session is the owner's"
    );
    assert!(owner_sessions("o'brien").await.is_empty());
    assert!(owner_sessions("' OR '1'='1").await.is_empty());
}
