//! Expiry judged by core at the boundary: idle and absolute lifetimes.

use std::time::Duration;

use super::support::{cookie_pair, create, get_string, id_in};
use crate::conformance::context::{CaseResult, Ctx, check};
use crate::options::Options;
use crate::store::RawStore as _;

pub(super) async fn idle_expiry_at_boundary(c: &Ctx<'_>) -> CaseResult {
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

pub(super) async fn absolute_lifetime(c: &Ctx<'_>) -> CaseResult {
    let options = Options {
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
