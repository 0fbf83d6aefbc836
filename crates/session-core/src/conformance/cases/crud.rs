//! Reading and writing records: values round-trip, strict mode, insert-if-absent, conditional
//! save and touch.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::support::{cookie_pair, create, id_in, write};
use crate::conformance::context::{CaseResult, Ctx, Failure, check};
use crate::error::Error;
use crate::id::SessionId;
use crate::store::{Inserted, RawStore as _, Saved};

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

pub(super) async fn round_trip_types(c: &Ctx<'_>) -> CaseResult {
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

pub(super) async fn unknown_id_gets_new_id(c: &Ctx<'_>) -> CaseResult {
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

pub(super) async fn exist(c: &Ctx<'_>) -> CaseResult {
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

pub(super) async fn insert_if_absent(c: &Ctx<'_>) -> CaseResult {
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

pub(super) async fn conditional_save_conflict(c: &Ctx<'_>) -> CaseResult {
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

pub(super) async fn touch_refreshes_expiry_only(c: &Ctx<'_>) -> CaseResult {
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
