//! The optional operations: counting sessions, the owner index, and whether a store's
//! declared capabilities agree with what it does.

use super::support::{cookie_pair, create, get_string};
use crate::conformance::context::{CaseResult, Ctx, Failure, check};
use crate::error::Result;
use crate::store::RawStore as _;

pub(super) async fn count_live_sessions(c: &Ctx<'_>) -> CaseResult {
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

pub(super) async fn owner_index(c: &Ctx<'_>) -> CaseResult {
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

/// Each optional operation works when the store declares it and answers
/// [`Error::Unsupported`](crate::Error::Unsupported) when it does not, so that callers who
/// read the declaration instead of calling are told the truth.
pub(super) async fn capabilities_match_behaviour(c: &Ctx<'_>) -> CaseResult {
    let store = c.store(&c.options()).await?;
    let declared = store.capabilities();
    let now = c.clock_now();
    agrees("count", declared.count, store.count(now).await.map(drop))?;
    agrees(
        "owner index",
        declared.owner_index,
        store.owner_sessions("nobody", now).await.map(drop),
    )?;
    agrees("gc", declared.gc, store.gc(now).await.map(drop))?;
    Ok(store.provider())
}

/// Whether the answer to an optional operation agrees with its declaration.
fn agrees(
    capability: &str,
    declared: bool,
    answer: Result<()>,
) -> std::result::Result<(), Failure> {
    match (declared, answer) {
        (true, Ok(())) => Ok(()),
        (false, Err(e)) if e.is_unsupported() => Ok(()),
        (true, Err(e)) => Err(Failure::Failed(format!(
            "capabilities() declares {capability}, but the call failed: {e}"
        ))),
        (false, Ok(())) => Err(Failure::Failed(format!(
            "capabilities() declares no {capability}, but the call worked"
        ))),
        (false, Err(e)) => Err(Failure::Failed(format!(
            "capabilities() declares no {capability}, so the call must answer Unsupported, \
             not: {e}"
        ))),
    }
}
