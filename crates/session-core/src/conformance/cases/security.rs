//! Hostile input and failures: invalid IDs, backend errors, hashed and signed IDs.

use super::support::{cookie_pair, create, get_string};
use crate::conformance::context::{CaseResult, Ctx, Failure, check};
use crate::error::Error;
use crate::id::SessionId;
use crate::options::{Options, SigningKeys};
use crate::store::RawStore as _;

pub(super) async fn invalid_ids_never_reach_provider(c: &Ctx<'_>) -> CaseResult {
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

pub(super) async fn backend_error_is_typed(c: &Ctx<'_>) -> CaseResult {
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

pub(super) async fn hashed_and_signed_ids(c: &Ctx<'_>) -> CaseResult {
    let options = Options {
        hash_ids: true,
        signing_keys: SigningKeys::new(vec![vec![9; 32]]),
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
