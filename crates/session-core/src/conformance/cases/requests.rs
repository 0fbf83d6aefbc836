//! What one request costs and leaves behind: no provider call when untouched, no record until
//! there is data, a write only on change, and deletion when emptied or destroyed.

use std::time::Duration;

use super::support::{create, get_string, id_in};
use crate::conformance::context::{CaseResult, Ctx, check};
use crate::id::SessionId;
use crate::store::RawStore as _;

pub(super) async fn untouched_request_costs_nothing(c: &Ctx<'_>) -> CaseResult {
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

pub(super) async fn no_record_until_data(c: &Ctx<'_>) -> CaseResult {
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
    if store.capabilities().count {
        let n = m.count().await?;
        check(n == 0, || format!("count is {n} after only empty sessions"))?;
    }
    Ok(store.provider())
}

pub(super) async fn write_only_when_changed(c: &Ctx<'_>) -> CaseResult {
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

pub(super) async fn emptied_session_deleted(c: &Ctx<'_>) -> CaseResult {
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

pub(super) async fn destroy_is_not_undone(c: &Ctx<'_>) -> CaseResult {
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
