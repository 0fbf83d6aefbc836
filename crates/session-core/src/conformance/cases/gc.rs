//! Garbage collection: what a pass removes, what it keeps, and the task that runs it.

use std::time::Duration;

use super::support::{create, get_string, id_in, write};
use crate::conformance::context::{CaseResult, Ctx, Failure, check};
use crate::error::Result;
use crate::id::SessionId;
use crate::store::RawStore as _;

pub(super) async fn gc_removes_expired(c: &Ctx<'_>) -> CaseResult {
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

pub(super) async fn gc_keeps_refreshed(c: &Ctx<'_>) -> CaseResult {
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

pub(super) async fn gc_task_survives_errors(c: &Ctx<'_>) -> CaseResult {
    let (m, store) = c.manager(c.options()).await?;
    // One pass that works, then two that fail: the task must outlive both and then remove
    // the expired session (four passes at least).
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
