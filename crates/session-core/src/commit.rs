//! Writing a request's session back: insert of a new
//! session, conditional save with replay on conflict, expiry refresh (touch), the move to a
//! new ID (regenerate), destroy, and the cookie each of them calls for.
//!
//! Every function works on a [`WorkingCopy`] and the [`CookieAction`] the request has
//! decided so far; the [`crate::Session`] handle calls them under its lock.

use std::time::Duration;

use tracing::Instrument as _;

use crate::clock::Millis;
use crate::cookies;
use crate::error::{Error, Result};
use crate::events::Event;
use crate::id::SessionId;
use crate::load::Live;
use crate::manager::Manager;
use crate::record::Record;
use crate::rotation;
use crate::store::{Inserted, Moved, Saved, Version};
use crate::working::WorkingCopy;

/// Conditional writes tried before giving up with [`Error::Conflict`]. Every conflict means
/// another writer succeeded, so this bounds the wait, not the correctness.
pub(crate) const MAX_SAVE_ATTEMPTS: u32 = 200;
/// Fresh IDs tried when a new ID collides with an existing session.
pub(crate) const MAX_ID_ATTEMPTS: u32 = 8;

/// What the adapter must send after [`crate::Session::commit`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Commit {
    /// A `Set-Cookie` header value, when the cookie must be set, rewritten or removed. When
    /// present, the response must also carry `Cache-Control: no-store`.
    pub set_cookie: Option<String>,
    /// Under `header` or `both` transport, when the handler used the session: the token
    /// header and `Vary` the response must carry ([`crate::transport`]).
    pub token: Option<crate::transport::TokenHeaders>,
}

/// The cookie a request has decided to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CookieAction {
    Keep,
    Set,
    Remove,
}

/// The [`Commit`] for the cookie decided, once the changes are persisted; resets the
/// decision, so a second commit sends nothing again.
pub(crate) fn take_commit(
    manager: &Manager,
    working: Option<&WorkingCopy>,
    cookie: &mut CookieAction,
) -> Commit {
    let options = manager.options();
    let set_cookie = match (
        *cookie,
        working.and_then(|w| w.id.as_ref().map(|id| (w, id))),
    ) {
        (CookieAction::Set, Some((working, id))) => {
            let value = crate::protect::cookie_value(options, id);
            let max_age = manager.own_max_age(&working.current, working.expires_at);
            Some(cookies::session_cookie_with_max_age(
                options, &value, max_age,
            ))
        }
        (CookieAction::Remove, _) => Some(cookies::removal_cookie(options)),
        _ => None,
    };
    *cookie = CookieAction::Keep;
    Commit {
        set_cookie,
        token: None,
    }
}

/// Whether committing `working` needs a provider call: there are changes to write, or an
/// expiry refresh is due (judged at the time of the read, to spare a clock read).
pub(crate) fn needs_io(manager: &Manager, working: &WorkingCopy) -> bool {
    !working.changes.is_empty()
        || touch_due(manager, working, working.read_at).is_some()
        || rotation::due(manager, working, working.read_at)
}

/// Persists the request's changes: insert a new session, save a changed one, delete an
/// emptied one, or refresh the expiry of an unchanged one when due.
pub(crate) async fn persist(
    manager: &Manager,
    working: &mut WorkingCopy,
    cookie: &mut CookieAction,
) -> Result<()> {
    if rotation::due_now(manager, working) {
        // Boxed, like every rare path below: an async fn's future is as large as its largest
        // await, and this one is moved (copied) several times on every request that writes.
        Box::pin(rotation::rotate(manager, working, cookie)).await?;
    }
    if working.changes.is_empty() {
        return maybe_touch(manager, working, cookie).await;
    }
    match (working.version, working.current.values.is_empty()) {
        (None, true) => {
            // Never stored and nothing to store.
            working.changes.clear();
            working.id = None;
            if *cookie == CookieAction::Set {
                *cookie = CookieAction::Keep;
            }
            Ok(())
        }
        (None, false) => {
            insert_new(manager, working).await?;
            *cookie = CookieAction::Set;
            Ok(())
        }
        (Some(version), _) => save_existing(manager, working, version, cookie).await,
    }
}

async fn insert_new(manager: &Manager, working: &mut WorkingCopy) -> Result<()> {
    let body = working.current.encode(manager.options().max_record_size)?;
    let write = manager.write_for(&working.current, &body);
    for attempt in 0..MAX_ID_ATTEMPTS {
        let id = match working.id.take() {
            Some(id) if attempt == 0 => id,
            _ => manager.new_id()?,
        };
        match manager.store().insert(&*manager.key(&id)?, write).await? {
            Inserted::Created(version) => {
                manager.emit(Event::Created {
                    session: id.fingerprint(),
                });
                working.id = Some(id);
                working.version = Some(version);
                working.expires_at = write.expires_at;
                working.changes.clear();
                return Ok(());
            }
            Inserted::Exists => {
                tracing::warn!("session id collision; retrying with a fresh id");
            }
        }
    }
    Err(Error::Conflict {
        attempts: MAX_ID_ATTEMPTS,
    })
}

async fn save_existing(
    manager: &Manager,
    working: &mut WorkingCopy,
    mut version: Version,
    cookie: &mut CookieAction,
) -> Result<()> {
    let Some(mut id) = working.id.clone() else {
        return Ok(());
    };
    let mut key = manager.key(&id)?.into_owned();
    for attempt in 1..=MAX_SAVE_ATTEMPTS {
        if working.current.values.is_empty() {
            manager.store().destroy(&key).await?;
            manager.emit(Event::Destroyed {
                session: id.fingerprint(),
            });
            *working = WorkingCopy::empty(manager.clock().now());
            *cookie = CookieAction::Remove;
            return Ok(());
        }
        let body = working.current.encode(manager.options().max_record_size)?;
        let write = manager.write_for(&working.current, &body);
        match manager.store().save(&key, version, write).await? {
            Saved::Saved(new_version) => {
                manager.saved();
                working.version = Some(new_version);
                working.expires_at = write.expires_at;
                working.changes.clear();
                slide_persistent_cookie(manager, working, cookie);
                return Ok(());
            }
            Saved::Missing => {
                vanished(manager, working, &id, cookie);
                return Ok(());
            }
            Saved::Conflict => {
                manager.emit(Event::ConflictRetried {
                    session: id.fingerprint(),
                    attempt,
                });
                // Boxed: a conflict is rare (see `persist`).
                let latest = Box::pin(async {
                    backoff(attempt).await;
                    manager.find_following(&id).await
                });
                let Some((at, Live { stored, record, .. })) = latest.await? else {
                    vanished(manager, working, &id, cookie);
                    return Ok(());
                };
                if at != id {
                    // Rotated meanwhile: the changes go to the new ID, which the client needs.
                    key = manager.key(&at)?.into_owned();
                    id = at;
                    working.id = Some(id.clone());
                    *cookie = CookieAction::Set;
                }
                working.current = working.replayed_onto(record);
                version = stored.version;
            }
        }
    }
    Err(Error::Conflict {
        attempts: MAX_SAVE_ATTEMPTS,
    })
}

/// A persistent cookie (by the options, or a session's own lifetime) slides with the
/// server-side expiry, so it is sent again after every write or refresh.
fn slide_persistent_cookie(manager: &Manager, working: &WorkingCopy, cookie: &mut CookieAction) {
    let persistent =
        !manager.options().cookie_lifetime.is_zero() || working.current.lifetime.is_some();
    if persistent && *cookie == CookieAction::Keep {
        *cookie = CookieAction::Set;
    }
}

/// The record was destroyed (logout, regenerate) by another request after this one loaded
/// it: drop this request's changes rather than bring the session back, and leave the
/// client's cookie alone (it may already hold a newer session's ID).
pub(crate) fn vanished(
    manager: &Manager,
    working: &mut WorkingCopy,
    id: &SessionId,
    cookie: &mut CookieAction,
) {
    tracing::debug!(session = %id, "session vanished during the request; changes dropped");
    *working = WorkingCopy::empty(manager.clock().now());
    *cookie = CookieAction::Keep;
}

/// The new expiry when a stored session's expiry should be refreshed at `now`: it would
/// move by at least the touch interval.
fn touch_due(manager: &Manager, working: &WorkingCopy, now: Millis) -> Option<Millis> {
    working.version?;
    working.id.as_ref()?;
    let expires_at = manager.expiry_at(&working.current, now);
    let refreshed_by = expires_at.saturating_sub(working.expires_at);
    (refreshed_by >= manager.touch_interval_ms().max(1)).then_some(expires_at)
}

async fn maybe_touch(
    manager: &Manager,
    working: &mut WorkingCopy,
    cookie: &mut CookieAction,
) -> Result<()> {
    let now = manager.clock().now();
    let Some(expires_at) = touch_due(manager, working, now) else {
        return Ok(());
    };
    let Some(id) = &working.id else {
        return Ok(());
    };
    let ttl = crate::store::ttl_ms(expires_at, now);
    let key = manager.key(id)?;
    let span = crate::events::debug_span(|| tracing::debug_span!("session.touch", session = %id));
    let touched = manager
        .store()
        .touch(&key, expires_at, ttl)
        .instrument(span)
        .await?;
    if touched {
        working.expires_at = expires_at;
        slide_persistent_cookie(manager, working, cookie);
    } else {
        let id = id.clone();
        vanished(manager, working, &id, cookie);
    }
    Ok(())
}

/// Moves the session to a new ID, carrying over the latest stored data with this request's
/// changes replayed on it. The move is conditional on the version read: when another
/// request moved or destroyed the session first, this one continues as a new session
/// holding only its own changes.
pub(crate) async fn regenerate(
    manager: &Manager,
    working: &mut WorkingCopy,
    cookie: &mut CookieAction,
) -> Result<()> {
    let Some(mut old) = working.id.clone().filter(|_| working.version.is_some()) else {
        // Never stored: the insert at commit uses a fresh ID anyway.
        if working.id.is_some() {
            working.id = Some(manager.new_id()?);
        }
        return Ok(());
    };
    let mut id_attempts = 0;
    for attempt in 1..=MAX_SAVE_ATTEMPTS {
        // Start from the latest stored state so concurrent changes are carried over; a
        // rotation meanwhile moved it, and the move starts from where it lives now.
        let Some((at, Live { stored, record, .. })) = manager.find_following(&old).await? else {
            let fresh = working.replayed_onto(Record::new(manager.clock().now()));
            *working = WorkingCopy::fresh(fresh, working.changes.clone());
            return Ok(());
        };
        old = at;
        let mut record = working.replayed_onto(record);
        if manager.options().rotation_interval.is_some() {
            // A new ID: the next rotation is an interval from now.
            record.id_issued = Some(manager.clock().now());
        }
        let body = record.encode(manager.options().max_record_size)?;
        let new = manager.new_id()?;
        let write = manager.write_for(&record, &body);
        let (old_key, new_key) = (manager.key(&old)?, manager.key(&new)?);
        let moved = manager
            .store()
            .regenerate(&old_key, stored.version, &new_key, write)
            .await?;
        match moved {
            Moved::Moved(version) => {
                manager.emit(Event::Regenerated {
                    from: old.fingerprint(),
                    to: new.fingerprint(),
                });
                *working = WorkingCopy {
                    id: Some(new),
                    version: Some(version),
                    expires_at: write.expires_at,
                    read_at: manager.clock().now(),
                    current: record,
                    changes: Vec::new(),
                    followed: false,
                };
                *cookie = CookieAction::Set;
                return Ok(());
            }
            Moved::Exists => {
                id_attempts += 1;
                tracing::warn!("session id collision; retrying with a fresh id");
                if id_attempts >= MAX_ID_ATTEMPTS {
                    return Err(Error::Conflict {
                        attempts: MAX_ID_ATTEMPTS,
                    });
                }
            }
            // Changed meanwhile: read again. Gone: the next read finds it missing.
            Moved::Conflict | Moved::Missing => {
                manager.emit(Event::ConflictRetried {
                    session: old.fingerprint(),
                    attempt,
                });
                backoff(attempt).await;
            }
        }
    }
    Err(Error::Conflict {
        attempts: MAX_SAVE_ATTEMPTS,
    })
}

/// Deletes the stored session and decides the removal cookie when the client holds one
/// (`presented`, or a cookie this request set). The working copy becomes an empty session.
pub(crate) async fn destroy(
    manager: &Manager,
    working: &mut WorkingCopy,
    presented: bool,
    cookie: &mut CookieAction,
) -> Result<()> {
    if let (Some(id), Some(_)) = (&working.id, working.version) {
        manager.store().destroy(&*manager.key(id)?).await?;
        manager.emit(Event::Destroyed {
            session: id.fingerprint(),
        });
    }
    let had_cookie = presented || *cookie == CookieAction::Set;
    *working = WorkingCopy::empty(manager.clock().now());
    *cookie = if had_cookie {
        CookieAction::Remove
    } else {
        CookieAction::Keep
    };
    Ok(())
}

/// Waits a little before retrying a conflicted write: a yield for the first retries, then a
/// short random sleep growing with the attempt, so competing writers spread out.
pub(crate) async fn backoff(attempt: u32) {
    let mut jitter = [0u8; 1];
    let _ = getrandom::fill(&mut jitter);
    let micros = u64::from(jitter[0]) * u64::from(attempt.min(20)) * 4;
    if attempt <= 2 {
        tokio::task::yield_now().await;
    } else {
        tokio::time::sleep(Duration::from_micros(micros)).await;
    }
}
