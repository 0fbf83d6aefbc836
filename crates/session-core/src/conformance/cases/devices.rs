//! A user's devices and the per-owner cap: listing an owner's sessions with their metadata,
//! revoking one by handle, and concurrent logins against the cap under both policies.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use super::support::{cookie_pair, get_string};
use crate::conformance::context::{CaseResult, Ctx, Failure, check};
use crate::devices::{Device, DeviceHandle, OwnerLimitPolicy};
use crate::error::Error;
use crate::id::SessionId;
use crate::manager::Manager;
use crate::options::Options;
use crate::store::RawStore as _;

/// A login as the demos do it: bind (where `refuse` refuses), regenerate, set the user.
/// Returns the session's ID (known before the commit, so a login that loses the cap race
/// can still be told apart) and the commit's outcome: the cookie, or the error.
async fn login(
    m: &Manager,
    user: &str,
    client: Option<(&str, &str)>,
) -> crate::Result<(Option<SessionId>, crate::Result<String>)> {
    let s = m.load([]);
    if let Some((agent, ip)) = client {
        s.present_client(Some(agent.as_bytes()), ip.parse().ok());
    }
    s.set_owner(Some(user)).await?;
    s.regenerate().await?;
    s.set("uid", user).await?;
    let id = s.id().await?;
    let cookie = s
        .commit()
        .await
        .map(|c| cookie_pair(&c.set_cookie.unwrap_or_default()));
    Ok((id, cookie))
}

/// [`login`] that must succeed; returns the cookie.
async fn logged_in(m: &Manager, user: &str) -> std::result::Result<String, Failure> {
    Ok(login(m, user, None).await?.1?)
}

fn handle_of(m: &Manager, id: &SessionId) -> std::result::Result<DeviceHandle, Failure> {
    Ok(DeviceHandle::of(&*m.key(id)?))
}

fn handle_in(m: &Manager, cookie: &str) -> std::result::Result<DeviceHandle, Failure> {
    handle_of(m, &super::support::id_in(m, cookie)?)
}

/// One request with `cookie` that reads the session (and so refreshes its expiry when due).
async fn visit(m: &Manager, cookie: &str) -> std::result::Result<(), Failure> {
    let s = m.load([cookie]);
    s.get::<String>("uid").await?;
    s.commit().await?;
    Ok(())
}

async fn devices_of(m: &Manager, cookie: &str) -> std::result::Result<Vec<Device>, Failure> {
    let s = m.load([cookie]);
    let devices = s.devices().await?;
    s.commit().await?;
    Ok(devices)
}

/// An owner's sessions are listed with created, last seen, persistent and current; last
/// seen moves with use, most recently seen first; another owner's are not listed.
pub(super) async fn devices_are_listed(c: &Ctx<'_>) -> CaseResult {
    let (m, store) = c.manager(c.options()).await?;
    let t0 = c.clock_now();
    let laptop = logged_in(&m, "alice").await?;
    c.clock.set(t0 + 2_000);
    let phone = {
        let s = m.load([]);
        s.set_owner(Some("alice")).await?;
        s.set("uid", "alice").await?;
        s.set_persistent(Duration::from_secs(600)).await?;
        cookie_pair(&s.commit().await?.set_cookie.unwrap_or_default())
    };
    logged_in(&m, "bob").await?;

    let devices = devices_of(&m, &laptop).await?;
    check(devices.len() == 2, || {
        format!("alice has {} devices, expected 2", devices.len())
    })?;
    let (first, second) = (&devices[0], &devices[1]);
    check(first.handle == handle_in(&m, &phone)?, || {
        "the most recently seen session is not listed first".into()
    })?;
    check(
        first.created == t0 + 2_000 && first.last_seen == t0 + 2_000,
        || {
            format!(
                "phone: created {} last seen {}, expected both t0+2000",
                first.created - t0,
                first.last_seen - t0
            )
        },
    )?;
    check(second.created == t0 && second.last_seen == t0, || {
        format!(
            "laptop: created {} last seen {}, expected both t0",
            second.created - t0,
            second.last_seen - t0
        )
    })?;
    check(first.persistent && !second.persistent, || {
        "persistent is not the remember-me flag".into()
    })?;
    check(second.current && !first.current, || {
        "current does not mark the session asking".into()
    })?;
    check(
        devices
            .iter()
            .all(|d| d.user_agent.is_none() && d.ip.is_none()),
        || "device metadata stored although it is off".into(),
    )?;
    for d in &devices {
        let text = d.handle.to_string();
        check(!laptop.contains(&text) && !phone.contains(&text), || {
            "a handle holds the session ID".into()
        })?;
    }

    // The laptop is used 10 s later: it is now the most recently seen.
    c.clock.set(t0 + 12_000);
    visit(&m, &laptop).await?;
    let devices = m.devices("alice", None).await?;
    check(
        devices.first().map(|d| (d.handle, d.last_seen))
            == Some((handle_in(&m, &laptop)?, t0 + 12_000)),
        || format!("after a touch the laptop is not first with last seen t0+12000: {devices:?}"),
    )?;
    check(devices.iter().all(|d| !d.current), || {
        "a device is current without a session asking".into()
    })?;
    check(m.devices("nobody", None).await?.is_empty(), || {
        "an unknown owner has devices".into()
    })?;
    let unbound = m.load([]);
    check(unbound.devices().await?.is_empty(), || {
        "an unbound session lists devices".into()
    })?;
    Ok(store.provider())
}

/// With an absolute lifetime, last seen follows use until the expiry is held at the
/// deadline; from then on it stays at `deadline − idle`, a lower bound (documented).
pub(super) async fn last_seen_with_absolute_lifetime(c: &Ctx<'_>) -> CaseResult {
    let options = Options {
        absolute_lifetime: Some(Duration::from_secs(100)),
        ..c.options()
    };
    let (m, store) = c.manager(options).await?;
    let t0 = c.clock_now();
    let cookie = logged_in(&m, "alice").await?;
    for (at, seen) in [(30_000, 30_000), (50_000, 40_000), (70_000, 40_000)] {
        c.clock.set(t0 + at);
        visit(&m, &cookie).await?;
        let devices = m.devices("alice", None).await?;
        check(
            devices.len() == 1 && devices[0].last_seen == t0 + seen,
            || format!("at t0+{at}: {devices:?}, expected last seen t0+{seen}"),
        )?;
    }
    Ok(store.provider())
}

/// A handle revokes exactly its session; another owner's handle, or a made-up one,
/// revokes nothing; the session's own handle logs it out. With hashed IDs as well.
pub(super) async fn revoke_by_handle(c: &Ctx<'_>) -> CaseResult {
    let mut provider = "";
    for hash_ids in [false, true] {
        let options = Options {
            hash_ids,
            ..c.options()
        };
        let (m, store) = c.manager(options).await?;
        let a1 = logged_in(&m, "alice").await?;
        let a2 = logged_in(&m, "alice").await?;
        let a3 = logged_in(&m, "alice").await?;
        let bob = logged_in(&m, "bob").await?;
        let bob_handle = handle_in(&m, &bob)?;

        let s = m.load([a1.as_str()]);
        check(!s.revoke_device(&bob_handle).await?, || {
            "another owner's handle revoked something".into()
        })?;
        check(!m.revoke_device("alice", &bob_handle).await?, || {
            "another owner's handle revoked something through the manager".into()
        })?;
        check(
            !s.revoke_device(
                &"AAAAAAAAAAAAAAAAAAAAAA"
                    .parse()
                    .map_err(|e| Failure::Failed(format!("{e}")))?,
            )
            .await?,
            || "an unknown handle revoked something".into(),
        )?;
        check(s.revoke_device(&handle_in(&m, &a2)?).await?, || {
            "the handle of another device revoked nothing".into()
        })?;
        check(s.commit().await?.set_cookie.is_none(), || {
            "revoking another device touched this one's cookie".into()
        })?;
        check(get_string(&m, &a2, "uid").await?.is_none(), || {
            format!("the revoked session survived (hash_ids {hash_ids})")
        })?;
        for (cookie, who) in [(&a1, "the current"), (&a3, "the third"), (&bob, "bob's")] {
            check(get_string(&m, cookie, "uid").await?.is_some(), || {
                format!("{who} session was revoked too (hash_ids {hash_ids})")
            })?;
        }
        check(
            !m.revoke_device("alice", &handle_in(&m, &a2)?).await?,
            || "a handle revoked twice".into(),
        )?;
        // Its own handle: a logout of this device, cookie removed.
        let s = m.load([a3.as_str()]);
        check(s.revoke_device(&handle_in(&m, &a3)?).await?, || {
            "the session's own handle revoked nothing".into()
        })?;
        let removal = s.commit().await?.set_cookie.unwrap_or_default();
        check(removal.contains("Max-Age=0"), || {
            format!("revoking the own device sent no removal cookie: {removal:?}")
        })?;
        check(get_string(&m, &a3, "uid").await?.is_none(), || {
            "the own device survived its revocation".into()
        })?;
        let left = m.devices("alice", None).await?;
        check(
            left.len() == 1 && left[0].handle == handle_in(&m, &a1)?,
            || format!("alice's devices after the revocations: {left:?}"),
        )?;
        provider = store.provider();
    }
    Ok(provider)
}

/// Two managers (two processes) on one store name every device alike, and one revokes by
/// the handle the other showed.
pub(super) async fn handles_are_stable_across_managers(c: &Ctx<'_>) -> CaseResult {
    let (m1, store) = c.manager(c.options()).await?;
    let m2 = Manager::with_store(c.options(), store.clone(), Arc::new(c.clock.clone()))?;
    let first = logged_in(&m1, "alice").await?;
    let second = logged_in(&m2, "alice").await?;
    let handles = |devices: Vec<Device>| {
        devices
            .into_iter()
            .map(|d| d.handle)
            .collect::<BTreeSet<_>>()
    };
    let one = handles(m1.devices("alice", None).await?);
    let two = handles(m2.devices("alice", None).await?);
    check(one.len() == 2 && one == two, || {
        format!("the managers name the devices differently: {one:?} / {two:?}")
    })?;
    check(
        m2.revoke_device("alice", &handle_in(&m1, &first)?).await?,
        || "a handle from one manager revoked nothing through the other".into(),
    )?;
    check(get_string(&m1, &first, "uid").await?.is_none(), || {
        "the revoked session survived".into()
    })?;
    check(get_string(&m1, &second, "uid").await?.is_some(), || {
        "the other session was revoked".into()
    })?;
    Ok(store.provider())
}

/// User agent and network are stored only with `device_metadata` on, cut down.
pub(super) async fn metadata_only_when_enabled(c: &Ctx<'_>) -> CaseResult {
    let agent = format!("Mozilla/5.0 {}", "x".repeat(400));
    let client = Some((agent.as_str(), "203.0.113.77"));
    let (off, store) = c.manager(c.options()).await?;
    login(&off, "alice", client).await?.1?;
    let devices = off.devices("alice", None).await?;
    check(
        devices.len() == 1 && devices[0].user_agent.is_none() && devices[0].ip.is_none(),
        || format!("metadata stored with device_metadata off: {devices:?}"),
    )?;
    let on = Options {
        device_metadata: true,
        ..c.options()
    };
    let (m, _) = c.manager(on).await?;
    login(&m, "alice", client).await?.1?;
    let devices = m.devices("alice", None).await?;
    let device = devices
        .first()
        .ok_or_else(|| Failure::Failed("no device listed".into()))?;
    check(device.ip.as_deref() == Some("203.0.113.0/24"), || {
        format!("ip is {:?}, expected the /24", device.ip)
    })?;
    let ua = device.user_agent.as_deref().unwrap_or_default();
    check(
        ua.len() == crate::devices::MAX_USER_AGENT && agent.starts_with(ua),
        || {
            format!(
                "user agent of {} bytes, expected the first {}",
                ua.len(),
                crate::devices::MAX_USER_AGENT
            )
        },
    )?;
    // A session that never told core about its client has none.
    logged_in(&m, "bob").await?;
    let bob = m.devices("bob", None).await?;
    check(bob.len() == 1 && bob[0].user_agent.is_none(), || {
        format!("metadata without a client: {bob:?}")
    })?;
    Ok(store.provider())
}

/// A cap needs an owner index: a store without one is refused when the manager is built,
/// one with it is accepted.
pub(super) async fn cap_needs_owner_index(c: &Ctx<'_>) -> CaseResult {
    let store = c.store(&c.options()).await?;
    let options = Options {
        max_sessions_per_owner: Some(2),
        ..c.options()
    };
    let built = Manager::with_store(options, store.clone(), Arc::new(c.clock.clone()));
    match (store.capabilities().owner_index, built) {
        (true, Ok(_)) => Ok(store.provider()),
        (false, Err(Error::Config { field, .. })) if field == "max_sessions_per_owner" => {
            Ok(store.provider())
        }
        (index, built) => Err(Failure::Failed(format!(
            "owner index {index}: building a capped manager gave {:?}",
            built.map(drop)
        ))),
    }
}

/// How one of the concurrent logins ended.
enum Ended {
    /// Refused before anything was written (`refuse`'s check in `set_owner`).
    Refused,
    /// Written, then ranked out: `SessionLimit` from the commit.
    Lost(DeviceHandle),
    Won(DeviceHandle),
}

/// `logins` parallel logins of one owner who holds `existing` sessions already (seen, and
/// bound, 5 s earlier); returns how each ended and the handles of the existing sessions.
async fn race(
    c: &Ctx<'_>,
    m: &Manager,
    existing: usize,
    logins: usize,
) -> std::result::Result<(Vec<Ended>, Vec<DeviceHandle>), Failure> {
    let mut old = Vec::new();
    for _ in 0..existing {
        old.push(handle_in(m, &logged_in(m, "carol").await?)?);
    }
    c.clock.set(c.clock_now() + 5_000);
    let tasks: Vec<_> = (0..logins)
        .map(|_| {
            let m = m.clone();
            tokio::spawn(async move {
                let s = m.load([]);
                match s.set_owner(Some("carol")).await {
                    Err(Error::SessionLimit { .. }) => return Ok(None),
                    other => other?,
                }
                s.regenerate().await?;
                s.set("uid", "carol").await?;
                let id = s.id().await?;
                Ok::<_, Error>(Some((id, s.commit().await.map(drop))))
            })
        })
        .collect();
    let mut ended = Vec::new();
    for task in tasks {
        let outcome = task
            .await
            .map_err(|e| Failure::Failed(format!("a login panicked: {e}")))??;
        ended.push(match outcome {
            None => Ended::Refused,
            Some((Some(id), result)) => {
                let handle = handle_of(m, &id)?;
                match result {
                    Ok(()) => Ended::Won(handle),
                    Err(Error::SessionLimit { .. }) => Ended::Lost(handle),
                    Err(e) => return Err(e.into()),
                }
            }
            Some((None, _)) => return Err(Failure::Failed("a login had no session ID".into())),
        });
    }
    Ok((ended, old))
}

/// The handles of the logins that wrote their session, sorted; those that returned `Ok`;
/// and how many were refused before writing.
fn tally(ended: &[Ended]) -> (Vec<DeviceHandle>, BTreeSet<DeviceHandle>, usize) {
    let (mut written, mut won, mut refused) = (Vec::new(), BTreeSet::new(), 0);
    for e in ended {
        match e {
            Ended::Refused => refused += 1,
            Ended::Lost(h) => written.push(*h),
            Ended::Won(h) => {
                written.push(*h);
                won.insert(*h);
            }
        }
    }
    written.sort();
    (written, won, refused)
}

/// The handles the owner holds now.
async fn held(m: &Manager) -> std::result::Result<BTreeSet<DeviceHandle>, Failure> {
    Ok(m.devices("carol", None)
        .await?
        .into_iter()
        .map(|d| d.handle)
        .collect())
}

/// Eight parallel logins with a cap of three under `evict`: once all returned, exactly the
/// three the order ranks first are left (all logins are more recent than the two sessions
/// from before, ties by handle), and each of them returned `Ok`.
pub(super) async fn cap_evicts_least_recently_seen(c: &Ctx<'_>) -> CaseResult {
    let options = Options {
        max_sessions_per_owner: Some(3),
        owner_limit_policy: OwnerLimitPolicy::Evict,
        ..c.options()
    };
    let (m, store) = c.manager(options).await?;
    let (ended, old) = race(c, &m, 2, 8).await?;
    let (written, won, refused) = tally(&ended);
    check(refused == 0, || format!("evict refused {refused} logins"))?;
    let expected: BTreeSet<_> = written.iter().take(3).copied().collect();
    let now = held(&m).await?;
    check(now == expected, || {
        format!(
            "{} sessions left, not the three first by handle among the logins",
            now.len()
        )
    })?;
    check(expected.is_subset(&won), || {
        "a surviving login reported an error".into()
    })?;
    check(old.iter().all(|h| !now.contains(h)), || {
        "a less recently seen session survived".into()
    })?;
    // Sequentially, a fourth login evicts the least recently seen of the three.
    c.clock.set(c.clock_now() + 1_000);
    logged_in(&m, "carol").await?;
    let after = held(&m).await?;
    let least = expected.iter().next_back().copied();
    check(
        after.len() == 3 && least.is_some_and(|h| !after.contains(&h)),
        || "a later login did not evict the least recently seen (last by handle) session".into(),
    )?;
    Ok(store.provider())
}

/// Eight parallel logins with a cap of three under `refuse`, with one session from before:
/// once all returned, that session and the two logins first by handle among those that
/// wrote are left, and each of those returned `Ok` (others may have returned `Ok` and been
/// displaced by a login that listed later: the documented bound). Then an ordinary login
/// is refused before anything is written, leaving the visitor's session as it was.
pub(super) async fn cap_refuses_new_logins(c: &Ctx<'_>) -> CaseResult {
    let options = Options {
        max_sessions_per_owner: Some(3),
        owner_limit_policy: OwnerLimitPolicy::Refuse,
        ..c.options()
    };
    let (m, store) = c.manager(options).await?;
    let (ended, old) = race(c, &m, 1, 8).await?;
    let (written, won, _) = tally(&ended);
    let mut expected: BTreeSet<_> = written.iter().take(2).copied().collect();
    check(expected.is_subset(&won), || {
        "a surviving login reported an error".into()
    })?;
    expected.extend(old.iter().copied());
    let now = held(&m).await?;
    check(now == expected, || {
        format!(
            "{} sessions left, not the one from before and the two logins first by handle",
            now.len()
        )
    })?;

    // A visitor with data logs in: refused at set_owner, the visitor's session unchanged.
    let visitor = super::support::create(&m, &[("cart", "3 apples")]).await?;
    let s = m.load([visitor.as_str()]);
    let refused = s.set_owner(Some("carol")).await;
    check(
        matches!(refused, Err(Error::SessionLimit { limit: 3 })),
        || format!("a login over the cap gave {:?}", refused.map(drop)),
    )?;
    let writes = store.writes();
    let commit = s.commit().await?;
    check(
        commit.set_cookie.is_none() && store.writes() == writes,
        || "a refused login wrote something".into(),
    )?;
    let after = m.load([visitor.as_str()]);
    check(
        after.get::<String>("cart").await?.as_deref() == Some("3 apples")
            && after.owner().await?.is_none(),
        || "the visitor's session changed with the refused login".into(),
    )?;
    check(held(&m).await? == expected, || {
        "the refused login changed the owner's sessions".into()
    })?;
    Ok(store.provider())
}
