//! Loading a request's session: the session cookie's raw values → a checked ID → the
//! stored record, read and checked (corruption, expiry) → a [`WorkingCopy`].
//!
//! Stores that hold records in this process answer [`RawStore::read_in_memory`] without an
//! `.await`; [`adopt_now`] walks the cookie's values on that path and stops at a value whose
//! read needs I/O (or whose dead record must be deleted). That value is read with
//! [`Manager::look_up`] and, when the record is live (the usual case), adopted on the spot
//! ([`adopt_read`]); anything else hands over to [`adopt`] with what was read. Every path
//! judges what it read with [`Manager::judge`], the one place the checks live.
//! A rotation's forward record (see [`crate::rotation`]) is followed on the I/O path, to
//! the ID the session lives under now ([`Manager::find_following`]); the request is then
//! sent that ID's cookie.
//!
//! [`RawStore::read_in_memory`]: crate::store::RawStore::read_in_memory

use futures_util::future::Either;
use serde::de::DeserializeOwned;
use tracing::Instrument as _;

use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::events::Event;
use crate::id::{self, SessionId};
use crate::manager::Manager;
use crate::protect::{self, Rejected};
use crate::record::{self, Record, decode_value};
use crate::rotation;
use crate::store::{Moved, Stored};
use crate::working::WorkingCopy;

/// The raw values of the session cookie, each followed by `;`, parsed on first use. Inline
/// up to 96 bytes (one signed ID), so a request's session state is one allocation.
pub(crate) type CookieValues = smallvec::SmallVec<[u8; 96]>;

/// The raw cookie values held in a [`CookieValues`] from byte offset `from` on, each with
/// its own offset.
fn raw_values(values: &[u8], from: usize) -> impl Iterator<Item = (usize, &[u8])> {
    let mut at = from;
    std::iter::from_fn(move || {
        let rest = values.get(at..).filter(|rest| !rest.is_empty())?;
        // Every value is followed by `;` (see `Manager::load_bytes`); memchr finds it a
        // word at a time.
        let len = memchr::memchr(b';', rest).unwrap_or(rest.len());
        let value = (at, &rest[..len]);
        at += len + 1;
        Some(value)
    })
}

/// Reads of a raw-ID record that keeps changing before [`Manager::rehash`] gives up moving it.
const REHASH_ATTEMPTS: u32 = 4;

/// Room for the longest cookie value that can carry an ID: 128 hex characters, a `.` and a
/// 43-character HMAC-SHA256 signature.
const MAX_ID_VALUE: usize = 176;

/// Checks that a cookie value is UTF-8 on an 8-byte-aligned copy of it.
///
/// std's UTF-8 check walks byte by byte up to the first aligned address and only then
/// checks ASCII a word at a time, and a cookie value sits at any offset in the header: for
/// an ID, copying it first is cheaper than checking it in place, and this runs on every
/// request that uses its session.
#[repr(align(8))]
struct AlignedUtf8([u8; MAX_ID_VALUE]);

impl AlignedUtf8 {
    fn new() -> Self {
        AlignedUtf8([0; MAX_ID_VALUE])
    }

    /// `value` as text, if it is UTF-8. A value too long to carry an ID is checked in
    /// place: it is rejected later, but a signature failure must still be reported.
    fn text<'v>(&'v mut self, value: &'v [u8]) -> Option<&'v str> {
        match self.0.get_mut(..value.len()) {
            Some(copy) => {
                copy.copy_from_slice(value);
                std::str::from_utf8(copy).ok()
            }
            None => std::str::from_utf8(value).ok(),
        }
    }
}

/// `future` inside the `session.load` span of `id` when a subscriber enables it. Not wrapped
/// otherwise: `Instrumented` enters and leaves its span on every poll and again on drop, even
/// a disabled one, on every request that reads a session.
///
/// A plain function returning either future, not an `async fn`: another state machine
/// around the load's read would hold the future twice, and this one is boxed on every read
/// from a store that needs I/O (see [`adopt_read`]).
fn in_load_span<F: Future>(
    id: &SessionId,
    future: F,
) -> Either<F, tracing::instrument::Instrumented<F>> {
    let span = crate::events::debug_span(|| tracing::debug_span!("session.load", session = %id));
    if span.is_disabled() {
        Either::Left(future)
    } else {
        Either::Right(future.instrument(span))
    }
}

/// A live record as read: where it is stored, what it holds and when it was judged live.
pub(crate) struct Live {
    pub(crate) stored: Stored,
    pub(crate) record: Record,
    /// When it was judged live: whether an expiry refresh is due is judged against it, so
    /// the clock is not read again.
    pub(crate) read_at: Millis,
}

/// What a read of one session ID found, once checked.
pub(crate) enum Verdict {
    /// A live record.
    Live(Live),
    /// No record, or one that was moved to a new ID: the ID is unknown (the event says so).
    Absent(Event),
    /// A forward record left by a rotation, within its grace: the session lives under this
    /// ID now (see [`crate::rotation`]).
    Forward(SessionId),
    /// An expired or corrupt record, to report and delete (best effort).
    Dead {
        /// What to report.
        event: Event,
        /// Why the record is corrupt (for the log); `None` when it expired.
        corrupt: Option<String>,
    },
}

/// What [`Manager::find`] found under an ID.
pub(crate) enum Found {
    /// A live record.
    Live(Live),
    /// A rotation's forward record within its grace: the session lives under this ID now.
    Forward(SessionId),
    /// Nothing usable: absent, expired, corrupt or mid-move.
    Gone,
}

/// How far [`adopt_now`] got.
pub(crate) enum Adopt {
    /// Done: the live session found, if any.
    Done(Option<WorkingCopy>),
    /// The cookie value holding `id` needs a read with I/O ([`Manager::look_up`]); the
    /// values after it start at byte offset `next`.
    NeedsIo { id: SessionId, next: usize },
}

/// The first live session among the raw cookie `values` from offset `from` on, looked up
/// without an `.await`; stops at the first value whose read needs I/O (or whose dead record
/// must be deleted) and hands over its ID. Values are parsed one at a time, so the usual
/// single cookie costs one ID and no list of candidates. `presented` becomes true once a
/// well-formed ID is seen.
pub(crate) fn adopt_now(
    manager: &Manager,
    values: &[u8],
    from: usize,
    presented: &mut bool,
) -> Result<Adopt> {
    for (at, value) in raw_values(values, from) {
        let mut buf = AlignedUtf8::new();
        let Some(id) = manager.cookie_id(value, &mut buf) else {
            continue;
        };
        *presented = true;
        let _span = crate::events::debug_span(
            || tracing::debug_span!("session.load", session = %id::fingerprint(id)),
        )
        .entered();
        match manager.find_in_memory(id) {
            None | Some(Ok((Verdict::Dead { .. } | Verdict::Forward(_), _))) => {
                return Ok(Adopt::NeedsIo {
                    id: SessionId::parse(id, manager.options().id_length)?,
                    next: at + value.len() + 1,
                });
            }
            Some(Ok((Verdict::Absent(event), _))) => manager.emit(event),
            Some(Ok((Verdict::Live(live), own))) => {
                let id = match own {
                    Some(own) => own,
                    None => SessionId::parse(id, manager.options().id_length)?,
                };
                manager.loaded();
                return Ok(Adopt::Done(Some(WorkingCopy::adopted(id, live))));
            }
            Some(Err(e)) => return Err(e),
        }
    }
    Ok(Adopt::Done(None))
}

/// The session of the cookie value that [`adopt_now`] stopped at, `id`, read with I/O: the
/// usual outcome, a live record, is adopted on the spot. Anything else goes to [`adopt`],
/// boxed: it runs only for a value that was absent, dead or rotated away, and without its
/// loop this future stays within the sizes glibc's allocator serves from its per-thread
/// cache (the caller boxes it).
pub(crate) async fn adopt_read(
    manager: &Manager,
    values: &[u8],
    id: SessionId,
    next: usize,
    presented: &mut bool,
) -> Result<Option<WorkingCopy>> {
    match manager.look_up(&id).await? {
        Verdict::Live(live) => {
            manager.loaded();
            Ok(Some(WorkingCopy::adopted(id, live)))
        }
        first => Box::pin(adopt(manager, values, id, first, next, presented)).await,
    }
}

/// [`adopt_now`] resumed at a value that needed I/O, when [`Manager::look_up`] found no live
/// record under its `id` (`first` is what it found): the record is settled (a dead one
/// deleted, a rotation's forward record followed) and the values from offset `next` on go
/// back to [`adopt_now`].
async fn adopt(
    manager: &Manager,
    values: &[u8],
    mut id: SessionId,
    mut first: Verdict,
    mut next: usize,
    presented: &mut bool,
) -> Result<Option<WorkingCopy>> {
    loop {
        if let Some((found, live)) = manager.follow_from(&id, first).await? {
            manager.loaded();
            let followed = found != id;
            let mut working = WorkingCopy::adopted(found, live);
            working.followed = followed;
            return Ok(Some(working));
        }
        match adopt_now(manager, values, next, presented)? {
            Adopt::Done(found) => return Ok(found),
            Adopt::NeedsIo {
                id: value,
                next: after,
            } => {
                first = manager.look_up(&value).await?;
                (id, next) = (value, after);
            }
        }
    }
}

impl Manager {
    /// The ID in one raw cookie value, if it is well-formed (and, with signing keys,
    /// verifies); a value that fails its signature check is reported as an event.
    fn cookie_id<'v>(&self, value: &'v [u8], buf: &'v mut AlignedUtf8) -> Option<&'v str> {
        let value = buf.text(value)?;
        match protect::parse_cookie_value(self.options(), value) {
            Ok(id) => Some(id),
            Err(Rejected::BadSignature) => {
                self.emit(Event::BadSignature);
                None
            }
            Err(Rejected::Malformed) => None,
        }
    }

    /// Reads session `sid` for admin use (Macaron's `Store.Read`), without creating anything.
    /// An invalid ID is an error; an unknown, expired or corrupt session is `None`.
    pub async fn read(&self, sid: &str) -> Result<Option<SessionData>> {
        let id = SessionId::parse(sid, self.options().id_length)?;
        Ok(self.find_live(&id).await?.map(|live| SessionData {
            id,
            record: live.record,
        }))
    }

    /// The live record of `id`: `None` when absent, expired, corrupt (the latter two are
    /// deleted, best effort) or rotated away.
    pub(crate) async fn find_live(&self, id: &SessionId) -> Result<Option<Live>> {
        Ok(match self.find(id).await? {
            Found::Live(live) => Some(live),
            Found::Forward(_) | Found::Gone => None,
        })
    }

    /// The live session `id` leads to, following the forward records of rotations within
    /// their grace: the ID it lives under now and its live record.
    pub(crate) async fn find_following(&self, id: &SessionId) -> Result<Option<(SessionId, Live)>> {
        let first = self.look_up(id).await?;
        self.follow_from(id, first).await
    }

    /// [`Manager::find_following`] once `id` has been looked up: `first` is what was found.
    async fn follow_from(
        &self,
        id: &SessionId,
        first: Verdict,
    ) -> Result<Option<(SessionId, Live)>> {
        let mut at = id.clone();
        let mut found = self.settle(&at, first).await?;
        for hop in 0..=crate::rotation::MAX_HOPS {
            match found {
                Found::Live(live) => return Ok(Some((at, live))),
                Found::Gone => return Ok(None),
                Found::Forward(target) if hop < crate::rotation::MAX_HOPS => at = target,
                Found::Forward(_) => break,
            }
            found = self.find(&at).await?;
        }
        tracing::warn!(session = %id, "too many rotations in a row; treated as unknown");
        Ok(None)
    }

    /// What is stored under `id`: a live record, a forward record within its grace, or
    /// nothing usable (an absent, expired or corrupt record; the latter two are deleted,
    /// best effort).
    pub(crate) async fn find(&self, id: &SessionId) -> Result<Found> {
        let verdict = self.look_up(id).await?;
        self.settle(id, verdict).await
    }

    /// What is stored under `id`, read and judged; nothing is reported or deleted yet
    /// ([`Manager::settle`] does that).
    pub(crate) async fn look_up(&self, id: &SessionId) -> Result<Verdict> {
        in_load_span(id, async {
            let key = self.key(id)?;
            let read = match self.store().read_in_memory(key.as_str()) {
                Some(read) => read.map(|found| found.map(|(_, stored)| stored)),
                None => self.store().read(&key).await,
            };
            if self.options().hash_ids_migrate
                && matches!(read, Ok(None))
                // Boxed: only a migration takes this path, and every load's future would
                // otherwise be as large as its loop.
                && let Some(live) = Box::pin(self.rehash(id, &key)).await?
            {
                return Ok(Verdict::Live(live));
            }
            self.judge(id.as_str(), read, self.clock().now())
        })
        .await
    }

    /// What a lookup's `verdict` on `id` comes to: an absent record is reported, an expired
    /// or corrupt one reported and deleted (best effort), a live or forward one passed on.
    async fn settle(&self, id: &SessionId, verdict: Verdict) -> Result<Found> {
        // The absent and dead cases report, log and delete: in the span of the load, as the
        // read was.
        in_load_span(id, async move {
            Ok(match verdict {
            Verdict::Live(live) => Found::Live(live),
            Verdict::Forward(target) => Found::Forward(target),
            Verdict::Absent(event) => {
                self.emit(event);
                Found::Gone
            }
            Verdict::Dead { event, corrupt } => {
                if let Some(error) = corrupt {
                    tracing::warn!(session = %id, %error, "corrupt session record treated as absent");
                }
                self.emit(event);
                // The backend key again (a hash with `hash_ids`) rather than carried in every
                // verdict: only a dead record needs it.
                self.discard(&*self.key(id)?).await;
                Found::Gone
            }
        })
        })
        .await
    }

    /// With `hash_ids_migrate`: session `id` as stored under its raw ID before `hash_ids`
    /// was turned on, moved to its hashed key `hashed` (a [`RawStore::regenerate`] between
    /// the two keys, so a concurrent request's move or write is not lost), or `None`.
    ///
    /// [`RawStore::regenerate`]: crate::store::RawStore::regenerate
    async fn rehash(&self, id: &SessionId, hashed: &SessionId) -> Result<Option<Live>> {
        for _ in 0..REHASH_ATTEMPTS {
            let read = self.store().read(id).await;
            let Live {
                stored,
                record,
                read_at,
            } = match self.judge(id.as_str(), read, self.clock().now())? {
                Verdict::Live(live) => live,
                // Rotation and the move to hashed keys are not combined: the raw ID is old.
                Verdict::Absent(_) | Verdict::Forward(_) => break,
                Verdict::Dead { .. } => {
                    self.discard(id).await;
                    return Ok(None);
                }
            };
            let write = self.write(&stored.body, stored.expires_at, record.owner.as_deref());
            match self
                .store()
                .regenerate(id, stored.version, hashed, write)
                .await?
            {
                Moved::Moved(version) => {
                    return Ok(Some(Live {
                        stored: Stored { version, ..stored },
                        record,
                        read_at,
                    }));
                }
                // Changed meanwhile: read it again.
                Moved::Conflict => {}
                // Moved by another request first.
                Moved::Exists | Moved::Missing => break,
            }
        }
        let read = self.store().read(hashed).await;
        match self.judge(id.as_str(), read, self.clock().now())? {
            Verdict::Live(live) => Ok(Some(live)),
            Verdict::Absent(_) | Verdict::Dead { .. } | Verdict::Forward(_) => Ok(None),
        }
    }

    /// The read of `id` judged, without an `.await`, for stores that answer in memory
    /// ([`crate::RawStore::read_in_memory`]); `None` when the store needs I/O. Nothing is
    /// reported or deleted here.
    ///
    /// `id` is a checked cookie ID not yet copied into a [`SessionId`]. The record comes with
    /// the store's own `SessionId` for its key when that key is the ID itself (IDs not
    /// hashed): adopting the session then takes a reference count, not an allocation.
    fn find_in_memory(&self, id: &str) -> Option<Result<(Verdict, Option<SessionId>)>> {
        let store = self.store();
        if self.options().hash_ids {
            // The store's key is the hash, not the ID: nothing of it to adopt.
            let key = match protect::hashed_key(self.options(), id) {
                Ok(key) => key,
                Err(e) => return Some(Err(e)),
            };
            let read = store.read_in_memory(key.as_str())?;
            if self.options().hash_ids_migrate && matches!(read, Ok(None)) {
                // It may still be under its raw ID: `find_live` looks there.
                return None;
            }
            let read = read.map(|found| found.map(|(_, stored)| stored));
            return Some(self.judge(id, read, self.clock().now()).map(|v| (v, None)));
        }
        let (own, read) = match store.read_in_memory(id)? {
            Ok(Some((own, stored))) => (Some(own), Ok(Some(stored))),
            Ok(None) => (None, Ok(None)),
            Err(e) => (None, Err(e)),
        };
        Some(self.judge(id, read, self.clock().now()).map(|v| (v, own)))
    }

    /// What a read of `id` found, checked for corruption and expiry at `now`; no I/O.
    pub(crate) fn judge(
        &self,
        id: &str,
        read: Result<Option<Stored>>,
        now: Millis,
    ) -> Result<Verdict> {
        let corrupt = |error: String| Verdict::Dead {
            event: Event::Corrupt {
                session: id::fingerprint(id),
            },
            corrupt: Some(error),
        };
        let unknown = || {
            Verdict::Absent(Event::UnknownId {
                session: id::fingerprint(id),
            })
        };
        let stored = match read {
            Ok(Some(stored)) => stored,
            Ok(None) => return Ok(unknown()),
            // A record the provider itself cannot parse is as good as absent, like one whose
            // body does not decode: a corrupt record must not become a 500 on every request.
            Err(Error::Corrupt(e)) => return Ok(corrupt(e)),
            Err(e) => return Err(e),
        };
        if stored.body == record::TOMBSTONE {
            // Mid-move (regenerate): the session lives under its new ID now.
            return Ok(unknown());
        }
        if stored.body.first() == Some(&rotation::FORWARD) {
            return Ok(
                match rotation::forward_target(id, &stored.body, self.options().id_length) {
                    Ok((until, target)) if until > now && stored.expires_at > now => {
                        Verdict::Forward(target)
                    }
                    // The grace is over: the old ID is dead.
                    Ok(_) => Verdict::Dead {
                        event: Event::Expired {
                            session: id::fingerprint(id),
                        },
                        corrupt: None,
                    },
                    Err(e) => corrupt(e.to_string()),
                },
            );
        }
        let record = match Record::decode(&stored.body, self.options().max_record_size) {
            Ok(record) => record,
            Err(e) => return Ok(corrupt(e.to_string())),
        };
        if stored.expires_at <= now || self.absolute_deadline(&record) <= now {
            return Ok(Verdict::Dead {
                event: Event::Expired {
                    session: id::fingerprint(id),
                },
                corrupt: None,
            });
        }
        Ok(Verdict::Live(Live {
            stored,
            record,
            read_at: now,
        }))
    }

    /// Deletes the dead record under backend key `key`, best effort: the next read judges
    /// it dead again.
    async fn discard(&self, key: &SessionId) {
        if let Err(e) = self.store().destroy(key).await {
            tracing::warn!(session = %key, error = %e, "could not delete a dead session record");
        }
    }
}

/// A read-only view of a stored session, from [`Manager::read`].
#[derive(Debug, Clone)]
pub struct SessionData {
    id: SessionId,
    record: Record,
}

impl SessionData {
    /// The session's ID.
    pub fn id(&self) -> &SessionId {
        &self.id
    }

    /// The owner the session is bound to.
    pub fn owner(&self) -> Option<&str> {
        self.record.owner.as_deref()
    }

    /// The stored keys.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.record.values.keys()
    }

    /// Value `key` decoded as `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        self.record
            .values
            .get(key)
            .map(|bytes| decode_value(key, bytes))
            .transpose()
    }
}
