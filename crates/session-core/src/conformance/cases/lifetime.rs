//! Remember-me: a session with a lifetime of its own, stored with its record.

use std::time::Duration;

use super::support::{cookie_pair, create, get_string, id_in};
use crate::conformance::context::{CaseResult, Ctx, Failure, check};
use crate::lifetime::SessionLifetime;
use crate::options::Options;
use crate::store::RawStore as _;

/// A remembered session outlives the default idle lifetime (60 s here), dies at its own
/// (10 minutes idle), and carries it across a regenerate; its cookie has `Max-Age`, a plain
/// session's has none.
pub(super) async fn remembered_session_has_its_own_lifetime(c: &Ctx<'_>) -> CaseResult {
    let options = Options {
        max_persistent_lifetime: Duration::from_secs(3600),
        ..c.options()
    };
    let (m, store) = c.manager(options).await?;
    let t0 = c.clock_now();
    let plain = create(&m, &[("k", "plain")]).await?;

    let s = m.load([]);
    s.set("k", "remembered").await?;
    s.set_persistent(Duration::from_secs(600)).await?;
    let set = s.commit().await?.set_cookie.unwrap_or_default();
    check(set.contains("Max-Age=600"), || {
        format!("a remembered session's cookie lacks Max-Age=600: {set}")
    })?;
    let remembered = cookie_pair(&set);
    let plain_set = {
        let s = m.load([]);
        s.set("k", "v").await?;
        s.commit().await?.set_cookie.unwrap_or_default()
    };
    check(!plain_set.contains("Max-Age"), || {
        format!("a plain session's cookie has a Max-Age: {plain_set}")
    })?;

    // Past the default idle lifetime: only the remembered one is alive. Reads through the
    // admin path do not slide the expiry.
    c.clock.set(t0 + 60_000);
    check(m.read(id_in(&m, &plain)?.as_str()).await?.is_none(), || {
        "a plain session outlived the default idle lifetime".into()
    })?;
    check(
        m.read(id_in(&m, &remembered)?.as_str()).await?.is_some(),
        || "a remembered session died at the default idle lifetime".into(),
    )?;

    // The next request reads the lifetime from the record.
    c.clock.set(t0 + 300_000);
    let s = m.load([remembered.as_str()]);
    check(
        s.lifetime().await?
            == Some(SessionLifetime {
                idle: Duration::from_secs(600),
                absolute: Some(Duration::from_secs(3600)),
            }),
        || "the stored lifetime did not read back".into(),
    )?;
    s.regenerate().await?;
    let set = s.commit().await?.set_cookie.unwrap_or_default();
    check(set.contains("Max-Age=600"), || {
        format!("the regenerated cookie lost its Max-Age: {set}")
    })?;
    let regenerated = cookie_pair(&set);
    c.clock.set(t0 + 300_000 + 599_999);
    check(
        get_string(&m, &regenerated, "k").await?.as_deref() == Some("remembered"),
        || "a regenerated remembered session died before its own idle lifetime".into(),
    )?;
    // That read slid the expiry (a refresh): the cookie moves with it.
    c.clock.set(t0 + 300_000 + 599_999 + 600_000);
    check(get_string(&m, &regenerated, "k").await?.is_none(), || {
        "a remembered session outlived its own idle lifetime".into()
    })?;
    Ok(store.provider())
}

/// A lifetime over the configured maximum is cut to it, the absolute limit holds however
/// active the session is, and `set_lifetime(None)` makes the session plain again.
pub(super) async fn persistent_lifetime_is_bounded(c: &Ctx<'_>) -> CaseResult {
    let options = Options {
        max_persistent_lifetime: Duration::from_secs(300),
        ..c.options()
    };
    let (m, store) = c.manager(options).await?;
    let t0 = c.clock_now();
    let s = m.load([]);
    s.set("k", "v").await?;
    s.set_persistent(Duration::from_secs(365 * 24 * 3600))
        .await?;
    let set = s.commit().await?.set_cookie.unwrap_or_default();
    check(set.contains("Max-Age=300"), || {
        format!("a lifetime over the maximum was not cut to it: {set}")
    })?;
    let cookie = cookie_pair(&set);
    for step in 1..=4 {
        c.clock.set(t0 + step * 60_000);
        check(get_string(&m, &cookie, "k").await?.is_some(), || {
            format!("an active remembered session expired early at step {step}")
        })?;
    }
    c.clock.set(t0 + 300_000);
    check(get_string(&m, &cookie, "k").await?.is_none(), || {
        "a remembered session outlived the maximum persistent lifetime".into()
    })?;

    let cookie = create(&m, &[("k", "v")]).await?;
    let s = m.load([cookie.as_str()]);
    s.set_persistent(Duration::from_secs(200)).await?;
    s.commit().await?;
    let s = m.load([cookie.as_str()]);
    s.set_lifetime(None).await?;
    let set = s
        .commit()
        .await?
        .set_cookie
        .ok_or_else(|| Failure::Failed("forgetting the lifetime sent no cookie".into()))?;
    check(!set.contains("Max-Age"), || {
        format!("a session made plain again kept a persistent cookie: {set}")
    })?;
    c.clock.set(t0 + 300_000 + 60_000);
    check(get_string(&m, &cookie, "k").await?.is_none(), || {
        "a session made plain again outlived the default idle lifetime".into()
    })?;
    Ok(store.provider())
}
