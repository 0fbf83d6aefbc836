//! Tests of the GC mark (`gc_after`) every sqlx-based provider runs: where each write path
//! leaves it, how GC uses it, and the upgrade of a table of the previous layout, which had
//! none.

use session_core::{
    Inserted, Millis, Moved, Provider, RawStore, Saved, SessionId, Version, Write, index_slack,
};

use super::suite::Fixture;
use super::{Admin, Tables, TestServer, admin_pool, context, fill_previous_layout, nth_id, open};

/// The slack of the stores the tests open (their idle lifetime is a minute: 6 s).
fn slack() -> Millis {
    index_slack(context(0).max_lifetime_ms)
}

/// A write of `"x"` for `"alice"` that expires at `expires_at`.
fn at(expires_at: Millis) -> Write<'static> {
    Write {
        body: b"x",
        expires_at,
        ttl_ms: 60_000,
        owner: Some("alice"),
    }
}

/// A fresh session ID.
fn new_id() -> SessionId {
    SessionId::generate(32).unwrap_or_else(|e| panic!("an ID: {e}"))
}

/// `(expires_at, gc_after)` of `id`'s row.
async fn mark_of<S: TestServer>(admin: &S::Admin, table: &str, id: &SessionId) -> (i64, i64) {
    let rows = admin.marks(&S::quote(table)).await;
    rows.into_iter()
        .find(|(row, _, _)| row == id.as_str())
        .map(|(_, expires_at, mark)| (expires_at, mark))
        .unwrap_or_else(|| panic!("no row for {id}"))
}

fn created(inserted: session_core::Result<Inserted>) -> Version {
    match inserted {
        Ok(Inserted::Created(version)) => version,
        other => panic!("insert: {other:?}"),
    }
}

fn saved(saved: session_core::Result<Saved>) -> Version {
    match saved {
        Ok(Saved::Saved(version)) => version,
        other => panic!("save: {other:?}"),
    }
}

/// After every write path (insert, save, touch, regenerate; the expiry moved a little, far
/// forward, or backwards) `expires_at - slack <= gc_after <= expires_at`: GC, which looks for
/// `gc_after <= now`, finds every expired row at once. A move within the slack leaves the
/// mark alone, which is what makes most saves write no indexed column.
pub async fn every_write_keeps_the_gc_mark_within_the_slack<S: TestServer>() {
    let fixture = Fixture::<S>::new().await;
    let (store, admin, table) = (&fixture.store, &fixture.admin, fixture.table.as_str());
    let slack = slack();
    let id = new_id();
    let mut version = created(store.insert(&id, at(100_000)).await);
    assert_eq!(mark_of::<S>(admin, table, &id).await, (100_000, 100_000));

    let saves = [
        // Within the slack: the mark stays.
        (100_000 + slack - 1, 100_000),
        // More than the slack ahead of the mark: it moves up to the expiry.
        (100_000 + slack + 1, 100_000 + slack + 1),
        // Back below the mark (a shorter lifetime): it follows the expiry down, or GC would
        // not find the row once it expired.
        (50_000, 50_000),
    ];
    for (expires_at, mark) in saves {
        version = saved(store.save(&id, version, at(expires_at)).await);
        assert_eq!(mark_of::<S>(admin, table, &id).await, (expires_at, mark));
    }

    let touches = [
        (50_001, 50_000),
        (50_000 + slack + 5, 50_000 + slack + 5),
        (10_000, 10_000),
    ];
    for (expires_at, mark) in touches {
        let touched = store.touch(&id, expires_at, 60_000).await;
        assert!(touched.unwrap_or_else(|e| panic!("touch: {e}")));
        assert_eq!(mark_of::<S>(admin, table, &id).await, (expires_at, mark));
    }

    let new = new_id();
    let moved = store.regenerate(&id, version, &new, at(20_000)).await;
    assert!(matches!(moved, Ok(Moved::Moved(_))), "{moved:?}");
    assert_eq!(mark_of::<S>(admin, table, &new).await, (20_000, 20_000));

    // A session that never expires, then one at the other end of the range: no overflow.
    let forever = new_id();
    let version = created(store.insert(&forever, at(i64::MAX)).await);
    assert_eq!(
        mark_of::<S>(admin, table, &forever).await,
        (i64::MAX, i64::MAX)
    );
    saved(store.save(&forever, version, at(i64::MIN)).await);
    assert_eq!(
        mark_of::<S>(admin, table, &forever).await,
        (i64::MIN, i64::MIN)
    );

    for (row, expires_at, mark) in admin.marks(&S::quote(table)).await {
        assert!(
            mark <= expires_at && expires_at - mark <= slack,
            "{row}: expires at {expires_at}, mark {mark}"
        );
    }
    fixture.end().await;
}

/// GC deletes a session as soon as it expired and never a live one, also when its mark lags
/// its expiry by up to the slack (a save moved the expiry a little) or by more (mark 0, as a
/// writer of the previous layout leaves it during a rolling upgrade); count and the owner
/// index stay exact meanwhile.
pub async fn gc_is_exact_whatever_the_mark<S: TestServer>() {
    let fixture = Fixture::<S>::new().await;
    let (store, admin, table) = (&fixture.store, &fixture.admin, fixture.table.as_str());
    let slack = slack();
    // Row 1, written as the previous layout's provider would: no mark (the default, 0).
    fill_previous_layout::<S>(admin, table, &[(50_000, Some("alice"))]).await;
    let old_writer = SessionId::parse_any(&nth_id(1)).unwrap_or_else(|e| panic!("{e}"));
    let (early, late) = (new_id(), new_id());
    created(store.insert(&early, at(10_000)).await);
    let version = created(store.insert(&late, at(20_000)).await);
    let unwrap = |r: session_core::Result<u64>| r.unwrap_or_else(|e| panic!("{e}"));
    let exists = |id: SessionId| async move {
        store
            .exist(&id)
            .await
            .unwrap_or_else(|e| panic!("exist: {e}"))
    };

    assert_eq!(unwrap(store.gc(9_999).await), 0);
    assert_eq!(unwrap(store.gc(10_000).await), 1, "expired at 10 000");
    assert!(!exists(early).await);
    let owned = store.owner_sessions("alice", 10_000).await;
    let mut owned = owned.unwrap_or_else(|e| panic!("owner_sessions: {e}"));
    owned.sort();
    let mut expected = vec![late.clone(), old_writer.clone()];
    expected.sort();
    assert_eq!(owned, expected);

    // `late` now expires just under one slack after its mark.
    let later = 20_000 + slack - 1;
    saved(store.save(&late, version, at(later)).await);
    assert_eq!(mark_of::<S>(admin, table, &late).await, (later, 20_000));
    assert_eq!(
        unwrap(store.gc(20_000).await),
        0,
        "past the mark, still live"
    );
    assert!(exists(late.clone()).await);
    assert_eq!(unwrap(store.count(20_000).await), 2);
    assert_eq!(unwrap(store.gc(later).await), 1);
    assert!(!exists(late).await && exists(old_writer.clone()).await);
    assert_eq!(unwrap(store.count(later).await), 1);

    assert_eq!(unwrap(store.gc(49_999).await), 0);
    assert_eq!(unwrap(store.gc(50_000).await), 1);
    assert_eq!(unwrap(store.count(0).await), 0);
    fixture.end().await;
}

/// A table of the previous layout (its exact DDL, rows in it) is upgraded when stores open
/// on it, several at once, to the layout of a table the provider creates, and the rows
/// written before are read, saved, counted, listed and collected correctly after.
pub async fn upgrades_the_previous_layout<S: TestServer>() {
    let tables = Tables::<S>::default();
    let table = tables.add();
    let admin = admin_pool::<S>().await;
    admin.exec(S::previous_schema_sql(&table)).await;
    let rows = [
        (10_000, Some("alice")),
        (1_000, None),
        (20_000, Some("alice")),
    ];
    fill_previous_layout::<S>(&admin, &table, &rows).await;
    let ids: Vec<SessionId> = (1..=3)
        .map(|n| SessionId::parse_any(&nth_id(n)).unwrap_or_else(|e| panic!("{e}")))
        .collect();

    // Instances starting together: one upgrades, the others wait for it and find it done.
    let config = format!("{}?table={table}", S::URL);
    let opens: Vec<_> = (0..4)
        .map(|_| {
            let config = format!("{config}&pool_size=1");
            tokio::spawn(async move {
                S::Provider::default()
                    .open(&config, &context(1 << 20))
                    .await
            })
        })
        .collect();
    for open in opens {
        let opened = open.await.unwrap_or_else(|e| panic!("an open task: {e}"));
        let store = opened.unwrap_or_else(|e| panic!("opening the old table: {e}"));
        let count = store.count(5_000).await;
        assert_eq!(count.unwrap_or_else(|e| panic!("count: {e}")), 2);
    }

    let store = open::<S>(format!("{config}&pool_size=2")).await;
    let unwrap = |r: session_core::Result<u64>| r.unwrap_or_else(|e| panic!("{e}"));
    let stored = store.read(&ids[0]).await;
    let stored = stored
        .unwrap_or_else(|e| panic!("read: {e}"))
        .unwrap_or_else(|| panic!("a row written before the upgrade is gone"));
    assert_eq!((stored.expires_at, stored.version), (10_000, Version(1)));
    let owned = store.owner_sessions("alice", 5_000).await;
    let mut owned = owned.unwrap_or_else(|e| panic!("owner_sessions: {e}"));
    owned.sort();
    let mut expected = vec![ids[0].clone(), ids[2].clone()];
    expected.sort();
    assert_eq!(owned, expected);
    assert_eq!(unwrap(store.gc(5_000).await), 1, "the expired row");

    // The first save after the upgrade gives the row a close mark.
    saved(store.save(&ids[0], Version(1), at(30_000)).await);
    assert_eq!(
        mark_of::<S>(&admin, &table, &ids[0]).await,
        (30_000, 30_000)
    );
    let unsaved = unwrap(store.gc(25_000).await);
    assert_eq!(unsaved, 1, "the row not saved since the upgrade, expired");
    assert_eq!(unwrap(store.count(25_000).await), 1);
    assert_eq!(unwrap(store.gc(29_999).await), 0);
    assert_eq!(unwrap(store.gc(30_000).await), 1);
    assert_eq!(unwrap(store.count(0).await), 0);
    drop(store);

    let fresh = Fixture::<S>::new().await;
    let expected = S::layout(&fresh.admin, &fresh.table).await;
    assert_eq!(S::layout(&admin, &table).await, expected);
    // Opening it again finds nothing to do and changes nothing.
    drop(open::<S>(config).await);
    assert_eq!(S::layout(&admin, &table).await, expected);
    fresh.end().await;
    admin.close().await;
    tables.drop_all().await;
}
