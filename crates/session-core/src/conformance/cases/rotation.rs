//! Periodic rotation: a new ID once the old one is older than the interval, the old one
//! forwarding to it for the grace, and no fork when requests race on the rotation.

use std::time::Duration;

use super::support::{cookie_pair, create, get_string, id_in};
use crate::conformance::context::{CaseResult, Ctx, Failure, check};
use crate::error::Error;
use crate::options::Options;
use crate::store::RawStore as _;

/// Rotation every 30 s with a grace of 5 s (the idle lifetime is 60 s).
fn rotating(c: &Ctx<'_>) -> Options {
    Options {
        rotation_interval: Some(Duration::from_secs(30)),
        rotation_grace: Duration::from_secs(5),
        ..c.options()
    }
}

/// The request after the interval gets a new ID; the old cookie finds the session (with a
/// write made under the new ID) and is sent the new cookie until the grace ends, and is
/// unknown after it. A regenerate kills the old ID at once, rotation or not.
pub(super) async fn rotation_keeps_old_id_for_the_grace(c: &Ctx<'_>) -> CaseResult {
    let (m, store) = c.manager(rotating(c)).await?;
    let t0 = c.clock_now();
    let old = create(&m, &[("k", "v")]).await?;
    c.clock.set(t0 + 29_999);
    let s = m.load([old.as_str()]);
    s.get::<String>("k").await?;
    check(s.commit().await?.set_cookie.is_none(), || {
        "rotated before the interval".into()
    })?;

    c.clock.set(t0 + 30_000);
    let s = m.load([old.as_str()]);
    s.get::<String>("k").await?;
    let set = s
        .commit()
        .await?
        .set_cookie
        .ok_or_else(|| Failure::Failed("no new cookie at the rotation interval".into()))?;
    let new = cookie_pair(&set);
    check(id_in(&m, &new)? != id_in(&m, &old)?, || {
        "the rotation kept the ID".into()
    })?;
    let s = m.load([new.as_str()]);
    s.set("written", "under the new id").await?;
    check(s.commit().await?.set_cookie.is_none(), || {
        "the new ID was rotated again at once".into()
    })?;

    c.clock.set(t0 + 34_999);
    let late = m.load([old.as_str()]);
    let seen = late.get::<String>("written").await?;
    let late_set = late.commit().await?.set_cookie.unwrap_or_default();
    check(seen.as_deref() == Some("under the new id"), || {
        format!("the old cookie within the grace saw {seen:?}, not the new ID's write")
    })?;
    check(cookie_pair(&late_set) == new, || {
        format!("the old cookie within the grace was not sent the new one: {late_set:?}")
    })?;

    c.clock.set(t0 + 35_000);
    check(get_string(&m, &old, "k").await?.is_none(), || {
        "the old ID still works after the grace".into()
    })?;
    check(
        get_string(&m, &new, "written").await?.as_deref() == Some("under the new id"),
        || "the new ID lost the session".into(),
    )?;

    // Login: regenerate kills the ID at once, with no grace.
    let s = m.load([new.as_str()]);
    s.regenerate().await?;
    let login = cookie_pair(&s.commit().await?.set_cookie.unwrap_or_default());
    check(!store.exist(&id_in(&m, &new)?).await?, || {
        "regenerate left the old ID behind with rotation on".into()
    })?;
    check(get_string(&m, &new, "k").await?.is_none(), || {
        "the cookie before a regenerate still works with rotation on".into()
    })?;
    check(
        get_string(&m, &login, "k").await?.as_deref() == Some("v"),
        || "regenerate with rotation on lost the data".into(),
    )?;
    Ok(store.provider())
}

/// Requests that all arrive with the old cookie once the rotation is due, at once, round
/// after round: they end on one new ID, every one is sent that ID, and every write is there.
pub(super) async fn concurrent_rotations_do_not_fork(c: &Ctx<'_>) -> CaseResult {
    const WRITERS: usize = 8;
    let (m, store) = c.manager(rotating(c)).await?;
    for round in 0..5 {
        let old = create(&m, &[("seed", "x")]).await?;
        c.clock.advance(Duration::from_secs(30));
        let tasks: Vec<_> = (0..WRITERS)
            .map(|i| {
                let (m, old) = (m.clone(), old.clone());
                tokio::spawn(async move {
                    let s = m.load([old.as_str()]);
                    s.set(&format!("key{i}"), &i).await?;
                    Ok::<_, Error>(s.commit().await?.set_cookie)
                })
            })
            .collect();
        let mut cookies = Vec::new();
        for task in tasks {
            let set = task
                .await
                .map_err(|e| Failure::Failed(format!("a writer panicked: {e}")))??;
            cookies.push(cookie_pair(&set.unwrap_or_default()));
        }
        check(cookies.iter().all(|c| *c == cookies[0]), || {
            format!("round {round}: the racing requests were sent different IDs: {cookies:?}")
        })?;
        check(cookies[0] != old && !cookies[0].is_empty(), || {
            format!("round {round}: the racing requests were not sent a new ID")
        })?;
        let s = m.load([cookies[0].as_str()]);
        let keys = s.keys().await?;
        s.commit().await?;
        let missing: Vec<usize> = (0..WRITERS)
            .filter(|i| !keys.contains(&format!("key{i}")))
            .collect();
        check(
            missing.is_empty() && keys.contains(&"seed".to_owned()),
            || format!("round {round}: writes lost in the rotation: {missing:?} (keys {keys:?})"),
        )?;
        c.clock.advance(Duration::from_secs(5));
        check(get_string(&m, &old, "seed").await?.is_none(), || {
            format!("round {round}: the old ID outlived the grace")
        })?;
    }
    Ok(store.provider())
}
