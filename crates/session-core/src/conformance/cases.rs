//! The conformance cases. Each returns the provider's name on success.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{CaseResult, Ctx, Failure, check};
use crate::clock::Clock as _;
use crate::error::{Error, Result};
use crate::id::SessionId;
use crate::manager::Manager;
use crate::record::{Record, encode_value};
use crate::store::{Inserted, Moved, RawStore, Saved, Write};

type CaseFuture<'a> = Pin<Box<dyn Future<Output = CaseResult> + Send + 'a>>;
type CaseFn = for<'a> fn(&'a Ctx<'a>) -> CaseFuture<'a>;

/// Every case, in run order.
pub(crate) const ALL: &[(&str, CaseFn)] = &[
    ("round_trip_types", |c| Box::pin(round_trip_types(c))),
    ("unknown_id_gets_new_id", |c| {
        Box::pin(unknown_id_gets_new_id(c))
    }),
    ("exist", |c| Box::pin(exist(c))),
    ("insert_if_absent", |c| Box::pin(insert_if_absent(c))),
    ("conditional_save_conflict", |c| {
        Box::pin(conditional_save_conflict(c))
    }),
    ("touch_refreshes_expiry_only", |c| {
        Box::pin(touch_refreshes_expiry_only(c))
    }),
    ("untouched_request_costs_nothing", |c| {
        Box::pin(untouched_request_costs_nothing(c))
    }),
    ("no_record_until_data", |c| {
        Box::pin(no_record_until_data(c))
    }),
    ("write_only_when_changed", |c| {
        Box::pin(write_only_when_changed(c))
    }),
    ("emptied_session_deleted", |c| {
        Box::pin(emptied_session_deleted(c))
    }),
    ("concurrent_writers_lose_nothing", |c| {
        Box::pin(concurrent_writers(c))
    }),
    ("regenerate_kills_old_id", |c| {
        Box::pin(regenerate_kills_old_id(c))
    }),
    ("concurrent_regenerates_do_not_fork", |c| {
        Box::pin(concurrent_regenerates_do_not_fork(c))
    }),
    ("destroy_is_not_undone", |c| {
        Box::pin(destroy_is_not_undone(c))
    }),
    ("idle_expiry_at_boundary", |c| {
        Box::pin(idle_expiry_at_boundary(c))
    }),
    ("absolute_lifetime", |c| Box::pin(absolute_lifetime(c))),
    ("gc_removes_expired", |c| Box::pin(gc_removes_expired(c))),
    ("gc_keeps_refreshed", |c| Box::pin(gc_keeps_refreshed(c))),
    ("gc_task_survives_errors", |c| {
        Box::pin(gc_task_survives_errors(c))
    }),
    ("count_live_sessions", |c| Box::pin(count_live_sessions(c))),
    ("owner_index", |c| Box::pin(owner_index(c))),
    ("record_size_limit", |c| Box::pin(record_size_limit(c))),
    ("malformed_record_reads_absent", |c| {
        Box::pin(malformed_record_reads_absent(c))
    }),
    ("invalid_ids_never_reach_provider", |c| {
        Box::pin(invalid_ids_never_reach_provider(c))
    }),
    ("backend_error_is_typed", |c| {
        Box::pin(backend_error_is_typed(c))
    }),
    ("hashed_and_signed_ids", |c| {
        Box::pin(hashed_and_signed_ids(c))
    }),
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Profile {
    name: String,
    age: u8,
    tags: Vec<String>,
    address: Address,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Address {
    city: String,
    zip: Option<u32>,
}

/// The `name=value` part of a `Set-Cookie` line, usable as a `Cookie` header.
fn cookie_pair(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn id_in(manager: &Manager, cookie: &str) -> Result<SessionId> {
    let value = cookie.split_once('=').map(|(_, v)| v).unwrap_or_default();
    SessionId::parse(value, manager.options().id_length)
}

/// One request that sets `pairs`; returns the cookie it was given.
async fn create(manager: &Manager, pairs: &[(&str, &str)]) -> std::result::Result<String, Failure> {
    let session = manager.load([]);
    for (k, v) in pairs {
        session.set(k, v).await?;
    }
    let set = session.commit().await?.set_cookie;
    let set = set.ok_or_else(|| Failure::Failed("a new session with data set no cookie".into()))?;
    Ok(cookie_pair(&set))
}

async fn get_string(manager: &Manager, cookie: &str, key: &str) -> Result<Option<String>> {
    let session = manager.load([cookie]);
    let value = session.get::<String>(key).await?;
    session.commit().await?;
    Ok(value)
}

fn write(body: &[u8], expires_at: i64) -> Write<'_> {
    Write {
        body,
        expires_at,
        ttl_ms: 60_000,
        owner: None,
    }
}

async fn round_trip_types(c: &Ctx<'_>) -> CaseResult {
    let (m, store) = c.manager(c.options()).await?;
    let profile = Profile {
        name: "Zoë".into(),
        age: 42,
        tags: vec!["a".into(), "b".into()],
        address: Address {
            city: "Zürich".into(),
            zip: Some(8001),
        },
    };
    let map: BTreeMap<String, i64> = [("x".to_owned(), -1), ("y".to_owned(), i64::MAX)].into();
    let s = m.load([]);
    s.set("text", "session middleware").await?;
    s.set("int", &-17i64).await?;
    s.set("big", &u64::MAX).await?;
    s.set("float", &1.5f64).await?;
    s.set("flag", &true).await?;
    s.set("profile", &profile).await?;
    s.set("map", &map).await?;
    s.set("ключ🔑", "значение").await?;
    let cookie = cookie_pair(&s.commit().await?.set_cookie.unwrap_or_default());
    let s = m.load([cookie.as_str()]);
    check(
        s.get::<String>("text").await?.as_deref() == Some("session middleware"),
        || "string".into(),
    )?;
    check(s.get::<i64>("int").await? == Some(-17), || "i64".into())?;
    check(s.get::<u64>("big").await? == Some(u64::MAX), || {
        "u64::MAX".into()
    })?;
    check(s.get::<f64>("float").await? == Some(1.5), || "f64".into())?;
    check(s.get::<bool>("flag").await? == Some(true), || "bool".into())?;
    check(s.get::<Profile>("profile").await? == Some(profile), || {
        "nested struct".into()
    })?;
    check(
        s.get::<BTreeMap<String, i64>>("map").await? == Some(map),
        || "map".into(),
    )?;
    check(
        s.get::<String>("ключ🔑").await?.as_deref() == Some("значение"),
        || "unicode key".into(),
    )?;
    check(
        matches!(s.get::<u32>("text").await, Err(Error::Decode { .. })),
        || "a type mismatch must be Error::Decode".into(),
    )?;
    check(s.delete("int").await?, || {
        "delete reports the key was set".into()
    })?;
    check(s.commit().await?.set_cookie.is_none(), || {
        "a save of an existing session set a cookie".into()
    })?;
    let s = m.load([cookie.as_str()]);
    check(s.get::<i64>("int").await?.is_none(), || {
        "deleted key came back".into()
    })?;
    check(s.get::<String>("text").await?.is_some(), || {
        "delete removed another key".into()
    })?;
    s.flush().await?;
    let removal = s.commit().await?.set_cookie.unwrap_or_default();
    check(removal.contains("Max-Age=0"), || {
        format!("flush did not remove the cookie: {removal:?}")
    })?;
    let id = id_in(&m, &cookie)?;
    check(store.read(&id).await?.is_none(), || {
        "a flushed session is still stored".into()
    })?;
    Ok(store.provider())
}

async fn unknown_id_gets_new_id(c: &Ctx<'_>) -> CaseResult {
    let (m, store) = c.manager(c.options()).await?;
    let forged = SessionId::generate(m.options().id_length)?;
    let header = format!("{}={}", m.options().cookie_name, forged.as_str());
    let s = m.load([header.as_str()]);
    check(s.keys().await?.is_empty(), || {
        "an unknown ID is not empty".into()
    })?;
    s.set("k", "v").await?;
    let cookie = cookie_pair(&s.commit().await?.set_cookie.unwrap_or_default());
    let issued = id_in(&m, &cookie)?;
    check(issued != forged, || {
        "strict mode adopted the client's unknown ID".into()
    })?;
    check(!store.exist(&forged).await?, || {
        "a record exists under the forged ID".into()
    })?;
    check(store.exist(&issued).await?, || {
        "the issued ID has no record".into()
    })?;
    Ok(store.provider())
}

async fn exist(c: &Ctx<'_>) -> CaseResult {
    let (m, store) = c.manager(c.options()).await?;
    let cookie = create(&m, &[("k", "v")]).await?;
    let id = id_in(&m, &cookie)?;
    check(store.exist(&id).await?, || {
        "exist is false for a stored session".into()
    })?;
    check(store.destroy(&id).await?, || {
        "destroy reported no record".into()
    })?;
    check(!store.exist(&id).await?, || {
        "exist is true after destroy".into()
    })?;
    check(!store.destroy(&id).await?, || {
        "a second destroy reported a record".into()
    })?;
    Ok(store.provider())
}

async fn insert_if_absent(c: &Ctx<'_>) -> CaseResult {
    let store = c.store(&c.options()).await?;
    let id = SessionId::generate(32)?;
    let exp = c.clock_now() + 60_000;
    check(
        matches!(
            store.insert(&id, write(b"first", exp)).await?,
            Inserted::Created(_)
        ),
        || "insert of a new ID did not create".into(),
    )?;
    check(
        store.insert(&id, write(b"second", exp)).await? == Inserted::Exists,
        || "insert over an existing ID did not report Exists".into(),
    )?;
    let body = store.read(&id).await?.map(|s| s.body);
    check(body.as_deref() == Some(&b"first"[..]), || {
        "insert overwrote an existing record".into()
    })?;
    Ok(store.provider())
}

async fn conditional_save_conflict(c: &Ctx<'_>) -> CaseResult {
    let store = c.store(&c.options()).await?;
    let id = SessionId::generate(32)?;
    let exp = c.clock_now() + 60_000;
    let Inserted::Created(v1) = store.insert(&id, write(b"one", exp)).await? else {
        return Err(Failure::Failed("insert did not create".into()));
    };
    let read = store.read(&id).await?.map(|s| s.version);
    check(read == Some(v1), || {
        "read returned another version than insert".into()
    })?;
    let Saved::Saved(v2) = store.save(&id, v1, write(b"two", exp)).await? else {
        return Err(Failure::Failed(
            "save with the current version failed".into(),
        ));
    };
    check(v2 != v1, || "save did not change the version".into())?;
    check(
        store.save(&id, v1, write(b"three", exp)).await? == Saved::Conflict,
        || "save with a stale version did not conflict".into(),
    )?;
    let stored = store.read(&id).await?;
    check(
        stored.as_ref().map(|s| &s.body[..]) == Some(&b"two"[..]),
        || "a conflicting save wrote".into(),
    )?;
    // A store that answers reads synchronously must answer what `read` does.
    if let Some(now) = store.read_in_memory(id.as_str()) {
        let now = now?;
        check(now.as_ref().map(|(key, _)| key) == Some(&id), || {
            "read_in_memory did not answer with the record's key".into()
        })?;
        check(now.map(|(_, stored)| stored) == stored, || {
            "read_in_memory disagrees with read".into()
        })?;
    }
    let other = SessionId::generate(32)?;
    check(
        store.save(&other, v2, write(b"x", exp)).await? == Saved::Missing,
        || "save of a missing record did not report Missing".into(),
    )?;
    check(!store.exist(&other).await?, || {
        "save created a record".into()
    })?;
    Ok(store.provider())
}

async fn touch_refreshes_expiry_only(c: &Ctx<'_>) -> CaseResult {
    let store = c.store(&c.options()).await?;
    let id = SessionId::generate(32)?;
    let now = c.clock_now();
    store.insert(&id, write(b"body", now + 60_000)).await?;
    check(store.touch(&id, now + 120_000, 120_000).await?, || {
        "touch of a record returned false".into()
    })?;
    let stored = store.read(&id).await?;
    check(
        stored.as_ref().map(|s| s.expires_at) == Some(now + 120_000),
        || {
            format!(
                "touch did not store the expiry: {:?}",
                stored.as_ref().map(|s| s.expires_at)
            )
        },
    )?;
    check(
        stored.map(|s| s.body).as_deref() == Some(&b"body"[..]),
        || "touch changed the data".into(),
    )?;
    let other = SessionId::generate(32)?;
    check(!store.touch(&other, now + 1000, 1000).await?, || {
        "touch of a missing record returned true".into()
    })?;
    check(!store.exist(&other).await?, || {
        "touch created a record".into()
    })?;
    Ok(store.provider())
}

async fn untouched_request_costs_nothing(c: &Ctx<'_>) -> CaseResult {
    let (m, store) = c.manager(c.options()).await?;
    let cookie = create(&m, &[("k", "v")]).await?;
    let before = store.calls();
    for _ in 0..10 {
        let s = m.load([cookie.as_str()]);
        check(s.commit().await?.set_cookie.is_none(), || {
            "an untouched session set a cookie".into()
        })?;
    }
    check(store.calls() == before, || {
        "an untouched session called the provider".into()
    })?;
    Ok(store.provider())
}

async fn no_record_until_data(c: &Ctx<'_>) -> CaseResult {
    let (m, store) = c.manager(c.options()).await?;
    for _ in 0..20 {
        let forged = SessionId::generate(32)?;
        let header = format!("{}={}", m.options().cookie_name, forged.as_str());
        let s = m.load([header.as_str()]);
        check(s.get::<String>("missing").await?.is_none(), || {
            "unknown session had data".into()
        })?;
        check(s.id().await?.is_none(), || {
            "an empty new session has an ID".into()
        })?;
        check(s.commit().await?.set_cookie.is_none(), || {
            "an empty session set a cookie".into()
        })?;
    }
    check(store.writes() == 0, || {
        "an empty session was written".into()
    })?;
    match m.count().await {
        Ok(n) => check(n == 0, || format!("count is {n} after only empty sessions"))?,
        Err(e) if e.is_unsupported() => {}
        Err(e) => return Err(e.into()),
    }
    Ok(store.provider())
}

async fn write_only_when_changed(c: &Ctx<'_>) -> CaseResult {
    let (m, store) = c.manager(c.options()).await?;
    let cookie = create(&m, &[("k", "v")]).await?;
    let before = store.writes();
    for _ in 0..5 {
        let s = m.load([cookie.as_str()]);
        s.get::<String>("k").await?;
        s.set("k", "v").await?;
        s.delete("absent").await?;
        s.commit().await?;
    }
    check(store.writes() == before, || {
        "an unchanged session was rewritten".into()
    })?;
    // An unchanged session refreshes its expiry at most once per touch interval.
    c.clock.advance(Duration::from_secs(5));
    for _ in 0..5 {
        let s = m.load([cookie.as_str()]);
        s.get::<String>("k").await?;
        s.commit().await?;
    }
    check(store.touches() == 1, || {
        format!("{} touches, expected 1", store.touches())
    })?;
    Ok(store.provider())
}

async fn emptied_session_deleted(c: &Ctx<'_>) -> CaseResult {
    let (m, store) = c.manager(c.options()).await?;
    let cookie = create(&m, &[("only", "v")]).await?;
    let id = id_in(&m, &cookie)?;
    let s = m.load([cookie.as_str()]);
    s.delete("only").await?;
    let set = s.commit().await?.set_cookie.unwrap_or_default();
    check(set.contains("Max-Age=0"), || {
        format!("emptied session kept its cookie: {set:?}")
    })?;
    check(!store.exist(&id).await?, || {
        "emptied session is still stored".into()
    })?;
    Ok(store.provider())
}

async fn concurrent_writers(c: &Ctx<'_>) -> CaseResult {
    let (m, store) = c.manager(c.options()).await?;
    let cookie = create(&m, &[("seed", "x")]).await?;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let m = m.clone();
        let cookie = cookie.clone();
        tasks.push(tokio::spawn(async move {
            let s = m.load([cookie.as_str()]);
            s.set(&format!("key{i}"), &i).await?;
            s.commit().await
        }));
    }
    for task in tasks {
        task.await
            .map_err(|e| Failure::Failed(format!("writer panicked: {e}")))??;
    }
    let s = m.load([cookie.as_str()]);
    let keys = s.keys().await?;
    let missing: Vec<i32> = (0..50)
        .filter(|i| !keys.contains(&format!("key{i}")))
        .collect();
    check(missing.is_empty(), || {
        format!("lost updates for keys {missing:?}")
    })?;
    check(keys.contains(&"seed".to_owned()), || {
        "the seed key was lost".into()
    })?;
    Ok(store.provider())
}

async fn regenerate_kills_old_id(c: &Ctx<'_>) -> CaseResult {
    let (m, store) = c.manager(c.options()).await?;
    let cookie = create(&m, &[("uname", "unknwon")]).await?;
    let old = id_in(&m, &cookie)?;
    // A stale request loads the session before the regenerate.
    let stale = m.load([cookie.as_str()]);
    stale.get::<String>("uname").await?;
    let s = m.load([cookie.as_str()]);
    s.regenerate().await?;
    let new = s
        .id()
        .await?
        .ok_or_else(|| Failure::Failed("no ID after regenerate".into()))?;
    let set = s.commit().await?.set_cookie.unwrap_or_default();
    check(new != old, || "regenerate kept the ID".into())?;
    check(
        set.contains(new.as_str()) && set.contains("HttpOnly") && set.contains("SameSite"),
        || "regenerate did not rewrite the cookie with every attribute".into(),
    )?;
    check(!store.exist(&old).await?, || {
        "the old ID still exists after regenerate".into()
    })?;
    let new_cookie = cookie_pair(&set);
    check(
        get_string(&m, &new_cookie, "uname").await?.as_deref() == Some("unknwon"),
        || "regenerate lost the data".into(),
    )?;
    stale.set("late", "write").await?;
    let stale_set = stale.commit().await?.set_cookie;
    check(stale_set.is_none(), || {
        "the stale request sent a cookie".into()
    })?;
    check(!store.exist(&old).await?, || {
        "a stale write revived the old ID".into()
    })?;
    check(get_string(&m, &cookie, "uname").await?.is_none(), || {
        "the old cookie still works".into()
    })?;
    Ok(store.provider())
}

/// Of two moves of one record, only one carries the data: first through the store with a
/// stale version (deterministic), then through two requests regenerating at once.
async fn concurrent_regenerates_do_not_fork(c: &Ctx<'_>) -> CaseResult {
    let (m, store) = c.manager(c.options()).await?;
    let now = c.clock.now();
    let old = SessionId::generate(32)?;
    let (first, second) = (SessionId::generate(32)?, SessionId::generate(32)?);
    let Inserted::Created(v1) = store.insert(&old, write(b"\x01data", now + 60_000)).await? else {
        return Err(Failure::Failed("insert did not create".into()));
    };
    let moved = store
        .regenerate(&old, v1, &first, write(b"\x01data", now + 60_000))
        .await?;
    check(matches!(moved, Moved::Moved(_)), || {
        format!("the first move answered {moved:?}")
    })?;
    let again = store
        .regenerate(&old, v1, &second, write(b"\x01data", now + 60_000))
        .await?;
    check(matches!(again, Moved::Missing | Moved::Conflict), || {
        format!("a second move of the same version answered {again:?}")
    })?;
    check(!store.exist(&second).await?, || {
        "a losing move left its new record behind".into()
    })?;
    check(!store.exist(&old).await?, || {
        "the old ID still exists after a move".into()
    })?;
    let Inserted::Created(v2) = store.insert(&old, write(b"\x01data", now + 60_000)).await? else {
        return Err(Failure::Failed("insert did not create".into()));
    };
    let stale = store
        .regenerate(
            &old,
            crate::store::Version(v2.0 ^ 1),
            &second,
            write(b"x", now + 60_000),
        )
        .await?;
    check(stale == Moved::Conflict, || {
        format!("a move with a stale version answered {stale:?}")
    })?;
    check(
        !store.exist(&second).await? && store.exist(&old).await?,
        || "a move with a stale version changed something".into(),
    )?;

    // Two logins with the same pre-login cookie, at once, several rounds.
    for round in 0..10 {
        let cookie = create(&m, &[("cart", "3 items")]).await?;
        let login = |m: Manager, cookie: String| {
            tokio::spawn(async move {
                let s = m.load([cookie.as_str()]);
                s.get::<String>("cart").await?;
                s.regenerate().await?;
                let id = s.id().await?;
                s.commit().await?;
                Ok::<_, Error>(id)
            })
        };
        let (a, b) = (
            login(m.clone(), cookie.clone()),
            login(m.clone(), cookie.clone()),
        );
        let (a, b) = (a.await, b.await);
        let ids = [a, b].into_iter().map(|r| {
            r.map_err(|e| Failure::Failed(format!("a login panicked: {e}")))?
                .map_err(Failure::from)
        });
        let mut carried = 0;
        for id in ids {
            if let Some(id) = id? {
                if let Some(data) = m.read(id.as_str()).await? {
                    carried += usize::from(data.get::<String>("cart")?.is_some());
                }
            }
        }
        check(carried == 1, || {
            format!("round {round}: {carried} sessions carry the pre-login data, not 1")
        })?;
    }
    Ok(store.provider())
}

async fn destroy_is_not_undone(c: &Ctx<'_>) -> CaseResult {
    let (m, store) = c.manager(c.options()).await?;
    let cookie = create(&m, &[("uid", "7")]).await?;
    let id = id_in(&m, &cookie)?;
    let writer = m.load([cookie.as_str()]);
    writer.get::<String>("uid").await?;
    let toucher = m.load([cookie.as_str()]);
    toucher.get::<String>("uid").await?;
    let s = m.load([cookie.as_str()]);
    s.destroy().await?;
    let removal = s.commit().await?.set_cookie.unwrap_or_default();
    check(
        removal.contains("Max-Age=0") && removal.contains("Path=/"),
        || format!("destroy sent no removal cookie: {removal:?}"),
    )?;
    check(!store.exist(&id).await?, || {
        "destroy left the record".into()
    })?;
    writer.set("uid", "8").await?;
    writer.commit().await?;
    c.clock.advance(Duration::from_secs(10));
    toucher.commit().await?;
    check(!store.exist(&id).await?, || {
        "a concurrent request revived a destroyed session".into()
    })?;
    check(get_string(&m, &cookie, "uid").await?.is_none(), || {
        "the destroyed cookie still works".into()
    })?;
    Ok(store.provider())
}

async fn idle_expiry_at_boundary(c: &Ctx<'_>) -> CaseResult {
    let (m, store) = c.manager(c.options()).await?;
    let t0 = c.clock_now();
    let cookie = create(&m, &[("k", "v")]).await?;
    let id = id_in(&m, &cookie)?;
    c.clock.set(t0 + 59_999);
    check(m.read(id.as_str()).await?.is_some(), || {
        "expired 1 ms before the idle lifetime".into()
    })?;
    c.clock.set(t0 + 60_000);
    check(m.read(id.as_str()).await?.is_none(), || {
        "alive at the idle lifetime".into()
    })?;
    // Activity slides the expiry.
    let cookie = create(&m, &[("k", "v")]).await?;
    c.clock.set(t0 + 90_000);
    check(get_string(&m, &cookie, "k").await?.is_some(), || {
        "lost before idle expiry".into()
    })?;
    c.clock.set(t0 + 149_999);
    check(get_string(&m, &cookie, "k").await?.is_some(), || {
        "a read did not slide the expiry".into()
    })?;
    c.clock.set(t0 + 149_999 + 60_000);
    check(get_string(&m, &cookie, "k").await?.is_none(), || {
        "alive after a full idle lifetime".into()
    })?;
    Ok(store.provider())
}

async fn absolute_lifetime(c: &Ctx<'_>) -> CaseResult {
    let options = crate::Options {
        absolute_lifetime: Some(Duration::from_secs(100)),
        ..c.options()
    };
    let (m, store) = c.manager(options).await?;
    let t0 = c.clock_now();
    let cookie = create(&m, &[("k", "v")]).await?;
    for step in 1..=3 {
        c.clock.set(t0 + step * 30_000);
        check(get_string(&m, &cookie, "k").await?.is_some(), || {
            format!("expired early at step {step}")
        })?;
    }
    let s = m.load([cookie.as_str()]);
    s.regenerate().await?;
    let cookie = cookie_pair(&s.commit().await?.set_cookie.unwrap_or_default());
    c.clock.set(t0 + 100_000);
    check(get_string(&m, &cookie, "k").await?.is_none(), || {
        "an active, regenerated session outlived its absolute lifetime".into()
    })?;
    Ok(store.provider())
}

async fn gc_removes_expired(c: &Ctx<'_>) -> CaseResult {
    let (m, store) = c.manager(c.options()).await?;
    let t0 = c.clock_now();
    let a = create(&m, &[("k", "a")]).await?;
    let b = create(&m, &[("k", "b")]).await?;
    c.clock.set(t0 + 45_000);
    check(get_string(&m, &b, "k").await?.is_some(), || {
        "b expired early".into()
    })?;
    c.clock.set(t0 + 65_000);
    let removed = m.gc().await?;
    check(removed >= 1, || format!("gc removed {removed} sessions"))?;
    check(!store.exist(&id_in(&m, &a)?).await?, || {
        "gc kept an expired session".into()
    })?;
    check(store.exist(&id_in(&m, &b)?).await?, || {
        "gc removed a refreshed session".into()
    })?;
    check(
        get_string(&m, &b, "k").await?.as_deref() == Some("b"),
        || "b lost its data".into(),
    )?;
    Ok(store.provider())
}

async fn gc_keeps_refreshed(c: &Ctx<'_>) -> CaseResult {
    let store = c.store(&c.options()).await?;
    let now = c.clock_now();
    let ids: Vec<SessionId> = (0..200)
        .map(|_| SessionId::generate(32))
        .collect::<Result<_>>()?;
    for id in &ids {
        store.insert(id, write(b"x", now + 1_000)).await?;
    }
    let gc_store = store.clone();
    let gc = tokio::spawn(async move { gc_store.gc(now + 2_000).await });
    let mut refreshed = Vec::new();
    for id in ids.iter().step_by(2) {
        if store.touch(id, now + 600_000, 600_000).await? {
            refreshed.push(id.clone());
        }
    }
    gc.await
        .map_err(|e| Failure::Failed(format!("gc panicked: {e}")))??;
    for id in &refreshed {
        check(store.exist(id).await?, || {
            "gc removed a session refreshed while it ran".into()
        })?;
    }
    store.gc(now + 2_000).await?;
    for id in ids.iter().skip(1).step_by(2) {
        check(!store.exist(id).await?, || {
            "gc kept an expired session".into()
        })?;
    }
    Ok(store.provider())
}

async fn gc_task_survives_errors(c: &Ctx<'_>) -> CaseResult {
    let (m, store) = c.manager(c.options()).await?;
    // A backend that expires records itself (memcached, couchbase) has no GC to keep alive.
    m.gc().await?;
    let cookie = create(&m, &[("k", "v")]).await?;
    let id = id_in(&m, &cookie)?;
    c.clock.advance(Duration::from_secs(61));
    store.fail_next_gcs(2);
    let handle = m.start_gc_every(Duration::from_millis(20));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while store.exist(&id).await? && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check(store.gcs() >= 4, || format!("gc ran {} times", store.gcs()))?;
    check(!store.exist(&id).await?, || {
        "gc stopped after an error".into()
    })?;
    check(handle.is_running(), || "the gc task ended by itself".into())?;
    handle.stop().await;
    let after = store.gcs();
    tokio::time::sleep(Duration::from_millis(100)).await;
    check(store.gcs() == after, || "gc kept running after stop".into())?;
    Ok(store.provider())
}

async fn count_live_sessions(c: &Ctx<'_>) -> CaseResult {
    let (m, store) = c.manager(c.options()).await?;
    let t0 = c.clock_now();
    create(&m, &[("k", "old")]).await?;
    c.clock.set(t0 + 30_000);
    create(&m, &[("k", "a")]).await?;
    create(&m, &[("k", "b")]).await?;
    let n = m.count().await?;
    check(n == 3, || format!("count is {n}, expected 3"))?;
    c.clock.set(t0 + 60_000);
    let n = m.count().await?;
    check(n == 2, || {
        format!("count is {n} with one expired session, expected 2")
    })?;
    Ok(store.provider())
}

async fn owner_index(c: &Ctx<'_>) -> CaseResult {
    let (m, store) = c.manager(c.options()).await?;
    let mut alice = Vec::new();
    for _ in 0..3 {
        let s = m.load([]);
        s.set("uid", "alice").await?;
        s.set_owner(Some("alice")).await?;
        alice.push(cookie_pair(
            &s.commit().await?.set_cookie.unwrap_or_default(),
        ));
    }
    let s = m.load([]);
    s.set("uid", "bob").await?;
    s.set_owner(Some("bob")).await?;
    let bob = cookie_pair(&s.commit().await?.set_cookie.unwrap_or_default());
    let listed = m.owner_sessions("alice").await?;
    check(listed.len() == 3, || {
        format!("alice has {} sessions listed, expected 3", listed.len())
    })?;
    let current = m.load([alice[0].as_str()]);
    let destroyed = current.destroy_other_sessions().await?;
    current.commit().await?;
    check(destroyed == 2, || {
        format!("destroyed {destroyed}, expected 2")
    })?;
    check(get_string(&m, &alice[0], "uid").await?.is_some(), || {
        "the current session was destroyed".into()
    })?;
    check(get_string(&m, &alice[1], "uid").await?.is_none(), || {
        "another session survived".into()
    })?;
    check(get_string(&m, &alice[2], "uid").await?.is_none(), || {
        "another session survived".into()
    })?;
    check(get_string(&m, &bob, "uid").await?.is_some(), || {
        "another owner's session was destroyed".into()
    })?;
    check(m.owner_sessions("alice").await?.len() == 1, || {
        "the index kept destroyed sessions".into()
    })?;
    // Unbinding removes the session from the index.
    let s = m.load([alice[0].as_str()]);
    s.set_owner(None).await?;
    s.commit().await?;
    check(m.owner_sessions("alice").await?.is_empty(), || {
        "an unbound session is still listed".into()
    })?;
    Ok(store.provider())
}

async fn record_size_limit(c: &Ctx<'_>) -> CaseResult {
    let options = c.options();
    let limit = options.max_record_size;
    let (m, store) = c.manager(options).await?;
    // Find the payload length that makes the record exactly `limit` bytes.
    let size_for = |n: usize| -> Result<usize> {
        let mut record = Record::new(c.clock_now());
        record
            .values
            .insert("blob", encode_value("blob", &"x".repeat(n))?);
        Ok(record.encode(usize::MAX)?.len())
    };
    let mut n = limit - 64;
    while size_for(n)? < limit {
        n += 1;
    }
    check(size_for(n)? == limit, || {
        "cannot build a record of exactly the limit".into()
    })?;
    let s = m.load([]);
    s.set("blob", &"x".repeat(n)).await?;
    let cookie = cookie_pair(&s.commit().await?.set_cookie.unwrap_or_default());
    check(
        get_string(&m, &cookie, "blob").await?.map(|v| v.len()) == Some(n),
        || "a record at the limit did not round-trip".into(),
    )?;
    let writes = store.writes();
    let s = m.load([cookie.as_str()]);
    s.set("blob", &"x".repeat(n + 1)).await?;
    check(
        matches!(s.commit().await, Err(Error::TooLarge { .. })),
        || "a record over the limit was not Error::TooLarge".into(),
    )?;
    check(store.writes() == writes, || {
        "an oversized record reached the provider".into()
    })?;
    check(
        get_string(&m, &cookie, "blob").await?.map(|v| v.len()) == Some(n),
        || "the stored record changed after a refused save".into(),
    )?;
    let s = m.load([]);
    s.set("blob", &"x".repeat(n + 1)).await?;
    check(
        matches!(s.commit().await, Err(Error::TooLarge { .. })),
        || "a new record over the limit was not Error::TooLarge".into(),
    )?;
    Ok(store.provider())
}

async fn malformed_record_reads_absent(c: &Ctx<'_>) -> CaseResult {
    let (m, store) = c.manager(c.options()).await?;
    let exp = c.clock_now() + 60_000;
    let bodies: [&[u8]; 5] = [
        b"",
        b"\x00\x00\x00",
        b"\x02future",
        b"\x01\xdd\xff\xff\xff\xff",
        b"not msgpack at all",
    ];
    for body in bodies {
        let id = SessionId::generate(32)?;
        store.insert(&id, write(body, exp)).await?;
        let header = format!("{}={}", m.options().cookie_name, id.as_str());
        let s = m.load([header.as_str()]);
        check(s.keys().await?.is_empty(), || {
            format!("malformed record {body:?} was not empty")
        })?;
        s.set("k", "v").await?;
        let set = s.commit().await?.set_cookie.unwrap_or_default();
        check(!set.contains(id.as_str()), || {
            "a malformed record's ID was adopted".into()
        })?;
        check(!store.exist(&id).await?, || {
            "a malformed record was left behind".into()
        })?;
        check(m.read(id.as_str()).await?.is_none(), || {
            "Manager::read returned a malformed record".into()
        })?;
    }
    Ok(store.provider())
}

async fn invalid_ids_never_reach_provider(c: &Ctx<'_>) -> CaseResult {
    let (m, store) = c.manager(c.options()).await?;
    let long = "a".repeat(300);
    let vectors = [
        "../../etc/passwd",
        "..\\x",
        "",
        long.as_str(),
        "0123456789abcdef0123456789abcde\0",
        "0123456789abcdef\r\n0123456789abcd",
        "\"0123456789abcdef0123456789abcd\"",
        "0123456789abcdef0123456789abcdé",
        "0123456789ABCDEF0123456789ABCDEF",
        "' OR 1=1 --",
    ];
    for v in vectors {
        let header = format!("{}={v}", m.options().cookie_name);
        let s = m.load([header.as_str()]);
        check(s.get::<String>("k").await?.is_none(), || {
            format!("{v:?} loaded data")
        })?;
        s.commit().await?;
        check(store.calls() == 0, || format!("{v:?} reached the provider"))?;
        check(m.read(v).await.is_err(), || {
            format!("Manager::read accepted {v:?}")
        })?;
    }
    check(store.calls() == 0, || {
        "an invalid ID reached the provider".into()
    })?;
    Ok(store.provider())
}

async fn backend_error_is_typed(c: &Ctx<'_>) -> CaseResult {
    let (m, store) = c.manager(c.options()).await?;
    let cookie = create(&m, &[("k", "v")]).await?;
    store.set_down(true);
    let s = m.load([cookie.as_str()]);
    check(
        matches!(s.get::<String>("k").await, Err(Error::Backend { .. })),
        || "a backend failure was not Error::Backend".into(),
    )?;
    check(s.commit().await.is_err(), || {
        "commit hid an earlier backend failure".into()
    })?;
    store.set_down(false);
    check(
        get_string(&m, &cookie, "k").await?.as_deref() == Some("v"),
        || "the session was lost after an outage".into(),
    )?;
    Ok(store.provider())
}

impl Ctx<'_> {
    pub(crate) fn clock_now(&self) -> i64 {
        use crate::clock::Clock;
        self.clock.now()
    }
}

async fn hashed_and_signed_ids(c: &Ctx<'_>) -> CaseResult {
    let options = crate::Options {
        hash_ids: true,
        signing_keys: crate::SigningKeys::new(vec![vec![9; 32]]),
        ..c.options()
    };
    let (m, store) = c.manager(options).await?;
    let cookie = create(&m, &[("k", "v")]).await?;
    let (id, _signature) = cookie
        .split_once('=')
        .and_then(|(_, v)| v.split_once('.'))
        .ok_or_else(|| Failure::Failed(format!("cookie is not signed: {cookie}")))?;
    let id = SessionId::parse(id, m.options().id_length)?;
    check(!store.exist(&id).await?, || {
        "the raw ID is a backend key with hash_ids on".into()
    })?;
    check(
        get_string(&m, &cookie, "k").await?.as_deref() == Some("v"),
        || "hashed session lost".into(),
    )?;
    let s = m.load([cookie.as_str()]);
    s.regenerate().await?;
    let new_cookie = cookie_pair(&s.commit().await?.set_cookie.unwrap_or_default());
    check(
        get_string(&m, &new_cookie, "k").await?.as_deref() == Some("v"),
        || "regenerate lost data".into(),
    )?;
    check(get_string(&m, &cookie, "k").await?.is_none(), || {
        "the old signed cookie still works".into()
    })?;
    let s = m.load([new_cookie.as_str()]);
    s.destroy().await?;
    s.commit().await?;
    check(get_string(&m, &new_cookie, "k").await?.is_none(), || {
        "destroy left a hashed record".into()
    })?;
    Ok(store.provider())
}
