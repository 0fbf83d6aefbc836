//! Requests racing on one session: concurrent writers, regenerate against a stale request, and
//! two regenerates at once.

use super::support::{cookie_pair, create, get_string, id_in, write};
use crate::conformance::context::{CaseResult, Ctx, Failure, check};
use crate::error::Error;
use crate::id::SessionId;
use crate::manager::Manager;
use crate::store::{Inserted, Moved, RawStore as _, Version};

pub(super) async fn concurrent_writers(c: &Ctx<'_>) -> CaseResult {
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

pub(super) async fn regenerate_kills_old_id(c: &Ctx<'_>) -> CaseResult {
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
pub(super) async fn concurrent_regenerates_do_not_fork(c: &Ctx<'_>) -> CaseResult {
    let (m, store) = c.manager(c.options()).await?;
    let now = c.clock_now();
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
        .regenerate(&old, Version(v2.0 ^ 1), &second, write(b"x", now + 60_000))
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
            if let Some(id) = id?
                && let Some(data) = m.read(id.as_str()).await?
            {
                carried += usize::from(data.get::<String>("cart")?.is_some());
            }
        }
        check(carried == 1, || {
            format!("round {round}: {carried} sessions carry the pre-login data, not 1")
        })?;
    }
    Ok(store.provider())
}
