//! Periodic ID rotation with a grace window.
//!
//! With [`Options::rotation_interval`] set, a session whose ID is older than the interval
//! gets a new ID on its next request (any request that uses the session: the rotation is
//! written at commit). The ID's age is counted from when it was issued, stored with the
//! record ([`Record::id_issued`]; the creation time until the first rotation).
//!
//! Unlike [`crate::Session::regenerate`], which kills the old ID at once (login, privilege
//! change), a rotation leaves a *forward record* under the old ID for
//! [`Options::rotation_grace`]: a short body with its own format byte naming the new ID. A
//! request that arrives with the old cookie within the grace (one already in flight when the
//! rotation was written) finds the session under its new ID, with every write made since,
//! and is sent the new cookie; after the grace the old ID is unknown. The forward record
//! names the new ID masked with a key derived from the old ID, which the store does not
//! hold when [`Options::hash_ids`] is on, so a dump of the store still holds no usable
//! cookie value.
//!
//! The move is the one [`crate::RawStore::regenerate`] makes by default (insert the new
//! record, then replace the old one by a conditional save), with the forward record in
//! place of the tombstone and no delete after it. Of two requests that both find the
//! rotation due, one wins the conditional save; the other deletes the record it inserted,
//! reads the old ID again, meets the forward record and continues on the winner's ID, its
//! own changes replayed there. So concurrent requests never fork the session into two IDs,
//! and no write is lost. Every provider supports it: it takes only `insert`, `save` and
//! `destroy`.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use session_core::{Manager, MockClock, Options};
//! use session_memory::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> session_core::Result<()> {
//! let options = Options {
//!     rotation_interval: Some(Duration::from_secs(15 * 60)),
//!     rotation_grace: Duration::from_secs(5),
//!     ..Options::default()
//! };
//! let clock = MockClock::default();
//! let store = Arc::new(MemoryStore::default());
//! let manager = Manager::with_store(options, store, Arc::new(clock.clone()))?;
//!
//! let session = manager.load([]);
//! session.set("user", "gopher").await?;
//! let old = session.commit().await?.set_cookie.expect("a new session sets its cookie");
//!
//! // Fifteen minutes later the next request rotates the ID.
//! clock.advance(Duration::from_secs(15 * 60));
//! let session = manager.load([old.as_str()]);
//! session.get::<String>("user").await?;
//! let new = session.commit().await?.set_cookie.expect("a rotation sends the new ID");
//!
//! // A request in flight with the old cookie still finds the session, and the new cookie.
//! let late = manager.load([old.as_str()]);
//! assert_eq!(late.get::<String>("user").await?.as_deref(), Some("gopher"));
//! assert_eq!(late.commit().await?.set_cookie.as_deref(), Some(new.as_str()));
//!
//! // After the grace, the old ID is dead.
//! clock.advance(Duration::from_secs(5));
//! let gone = manager.load([old.as_str()]);
//! assert_eq!(gone.get::<String>("user").await?, None);
//! # Ok(())
//! # }
//! ```
//!
//! [`Options::rotation_interval`]: crate::Options::rotation_interval
//! [`Options::rotation_grace`]: crate::Options::rotation_grace
//! [`Options::hash_ids`]: crate::Options::hash_ids

use sha2::{Digest as _, Sha512};

use crate::clock::{Millis, duration_millis};
use crate::commit::{self, CookieAction};
use crate::error::{Error, Result};
use crate::events::Event;
use crate::id::SessionId;
use crate::load::{Found, Live};
use crate::manager::Manager;
use crate::record::Record;
use crate::store::{Inserted, Saved, Write};
use crate::working::WorkingCopy;

/// The format byte of a forward record: `[FORWARD, valid_until (i64, big-endian), masked
/// new ID]`. No session record has it.
pub const FORWARD: u8 = 3;

/// Bytes before the masked ID in a forward record.
const FORWARD_HEADER: usize = 1 + 8;

/// Forward records followed in a row before the chain is treated as broken. With the grace
/// shorter than the interval (checked by [`crate::Options::validate`]) one is the most a
/// client meets; the rest is room for clocks of servers that disagree a little.
pub(crate) const MAX_HOPS: usize = 3;

/// The body of a forward record from `old` to `new`, valid until `until`.
///
/// The validity is in the body, not only in the record's expiry: an expiry refresh (`touch`)
/// of the old ID by a request that loaded it before the rotation moves the record's expiry,
/// and must not extend the grace.
pub(crate) fn forward_body(old: &str, new: &SessionId, until: Millis) -> Vec<u8> {
    let mut body = Vec::with_capacity(FORWARD_HEADER + new.as_str().len());
    body.push(FORWARD);
    body.extend_from_slice(&until.to_be_bytes());
    body.extend(
        new.as_str()
            .bytes()
            .zip(mask(old, new.as_str().len()))
            .map(|(b, m)| b ^ m),
    );
    body
}

/// The new ID and the end of the grace in the forward record `body` read under `old`.
pub(crate) fn forward_target(
    old: &str,
    body: &[u8],
    id_length: usize,
) -> Result<(Millis, SessionId)> {
    let corrupt = || Error::Corrupt("malformed forward record".into());
    let until = body
        .get(1..FORWARD_HEADER)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(Millis::from_be_bytes)
        .ok_or_else(corrupt)?;
    let masked = &body[FORWARD_HEADER..];
    let id: Vec<u8> = masked
        .iter()
        .zip(mask(old, masked.len()))
        .map(|(b, m)| b ^ m)
        .collect();
    let id = std::str::from_utf8(&id).map_err(|_| corrupt())?;
    let id = SessionId::parse(id, id_length).map_err(|_| corrupt())?;
    Ok((until, id))
}

/// `len` bytes derived from the old ID alone (SHA-512 blocks under a counter), which only
/// the holder of the old cookie knows.
fn mask(old: &str, len: usize) -> impl Iterator<Item = u8> {
    (0u8..)
        .flat_map(move |block| {
            let mut hash = Sha512::new();
            hash.update(b"session-core rotation forward\0");
            hash.update([block]);
            hash.update(old.as_bytes());
            hash.finalize().into_iter()
        })
        .take(len)
}

impl Manager {
    /// The rotation interval in ms, when rotation is on.
    fn rotation_ms(&self) -> Option<Millis> {
        self.options().rotation_interval.map(duration_millis)
    }
}

/// Whether the stored session in `working` is due a new ID at `now`.
pub(crate) fn due(manager: &Manager, working: &WorkingCopy, now: Millis) -> bool {
    let Some(interval) = manager.rotation_ms() else {
        return false;
    };
    working.version.is_some()
        && working.id.is_some()
        && !working.current.values.is_empty()
        && now.saturating_sub(working.current.id_issued()) >= interval
}

/// [`due`] now; no clock read when rotation is off.
pub(crate) fn due_now(manager: &Manager, working: &WorkingCopy) -> bool {
    manager.rotation_ms().is_some() && due(manager, working, manager.clock().now())
}

/// Moves the session in `working` to a new ID, leaving a forward record under the old one
/// for the grace; or, when another request rotated it first, continues on that request's
/// ID. This request's changes are carried over either way (written by the move, or left in
/// `working` for the save that follows).
pub(crate) async fn rotate(
    manager: &Manager,
    working: &mut WorkingCopy,
    cookie: &mut CookieAction,
) -> Result<()> {
    let Some(old) = working.id.clone() else {
        return Ok(());
    };
    let grace = duration_millis(manager.options().rotation_grace).max(1);
    let mut id_attempts = 0;
    for attempt in 1..=commit::MAX_SAVE_ATTEMPTS {
        let (stored, record) = match manager.find(&old).await? {
            Found::Live(Live { stored, record, .. }) => (stored, record),
            Found::Forward(target) => return follow(manager, working, &old, &target, cookie).await,
            Found::Gone => {
                commit::vanished(manager, working, &old, cookie);
                return Ok(());
            }
        };
        let now = manager.clock().now();
        let mut record: Record = working.replayed_onto(record);
        record.id_issued = Some(now);
        let body = record.encode(manager.options().max_record_size)?;
        let new = manager.new_id()?;
        let new_key = manager.key(&new)?;
        let write = manager.write_for(&record, &body);
        let version = match manager.store().insert(&new_key, write).await? {
            Inserted::Created(version) => version,
            Inserted::Exists => {
                id_attempts += 1;
                tracing::warn!("session id collision; retrying with a fresh id");
                if id_attempts >= commit::MAX_ID_ATTEMPTS {
                    return Err(Error::Conflict {
                        attempts: commit::MAX_ID_ATTEMPTS,
                    });
                }
                continue;
            }
        };
        let forward = forward_body(old.as_str(), &new, now.saturating_add(grace));
        let forward = Write {
            body: &forward,
            expires_at: now.saturating_add(grace),
            ttl_ms: grace,
            owner: None,
        };
        match manager
            .store()
            .save(&*manager.key(&old)?, stored.version, forward)
            .await?
        {
            Saved::Saved(_) => {
                manager.emit(Event::Rotated {
                    from: old.fingerprint(),
                    to: new.fingerprint(),
                });
                *working = WorkingCopy {
                    id: Some(new),
                    version: Some(version),
                    expires_at: write.expires_at,
                    read_at: now,
                    current: record,
                    changes: Vec::new(),
                    followed: false,
                };
                *cookie = CookieAction::Set;
                return Ok(());
            }
            lost => {
                // Nobody else knows the new ID yet: what was written there is ours alone.
                manager.store().destroy(&new_key).await?;
                if lost == Saved::Missing {
                    commit::vanished(manager, working, &old, cookie);
                    return Ok(());
                }
                manager.emit(Event::ConflictRetried {
                    session: old.fingerprint(),
                    attempt,
                });
                commit::backoff(attempt).await;
            }
        }
    }
    Err(Error::Conflict {
        attempts: commit::MAX_SAVE_ATTEMPTS,
    })
}

/// Another request rotated the session from `old` to `target` first: continue there, with
/// this request's changes replayed onto the latest record, and send the new cookie.
async fn follow(
    manager: &Manager,
    working: &mut WorkingCopy,
    old: &SessionId,
    target: &SessionId,
    cookie: &mut CookieAction,
) -> Result<()> {
    let Some((id, live)) = manager.find_following(target).await? else {
        commit::vanished(manager, working, old, cookie);
        return Ok(());
    };
    working.current = working.replayed_onto(live.record);
    working.id = Some(id);
    working.version = Some(live.stored.version);
    working.expires_at = live.stored.expires_at;
    working.read_at = live.read_at;
    *cookie = CookieAction::Set;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forward_record_names_the_new_id_to_the_old_id_alone() {
        let old = SessionId::generate(32).unwrap();
        let new = SessionId::generate(32).unwrap();
        let body = forward_body(old.as_str(), &new, 1234);
        assert_eq!(body[0], FORWARD);
        assert!(!body.windows(32).any(|w| w == new.as_str().as_bytes()));
        assert_eq!(
            forward_target(old.as_str(), &body, 32).unwrap(),
            (1234, new)
        );
        let other = SessionId::generate(32).unwrap();
        assert!(forward_target(other.as_str(), &body, 32).is_err());
        assert!(forward_target(old.as_str(), &body[..5], 32).is_err());
    }

    #[test]
    fn long_ids_are_masked_past_one_hash_block() {
        let old = SessionId::generate(128).unwrap();
        let new = SessionId::generate(128).unwrap();
        let body = forward_body(old.as_str(), &new, 1);
        assert_eq!(forward_target(old.as_str(), &body, 128).unwrap().1, new);
    }
}
