//! The per-request session handle and its lifecycle (DESIGN section 3).

use std::sync::Arc;
use std::time::Duration;

use futures_util::lock::Mutex;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument as _;

use crate::clock::Millis;
use crate::cookies;
use crate::error::{Error, Result};
use crate::events::Event;
use crate::id::SessionId;
use crate::manager::{Found, IdBuf, Manager};
use crate::record::{Record, decode_value, encode_value};
use crate::store::{Inserted, Moved, Saved, Stored, Version, Write};

/// Conditional saves tried before giving up with [`Error::Conflict`]. Every conflict means
/// another writer succeeded, so this bounds the wait, not the correctness.
const MAX_SAVE_ATTEMPTS: u32 = 200;
/// Fresh IDs tried when a new ID collides with an existing session.
const MAX_ID_ATTEMPTS: u32 = 8;

/// One request's session: a cheap, cloneable handle, usable across `.await` and from spawned
/// tasks of the request.
///
/// Loading is lazy: the provider is first read when the handler first touches the session.
/// `get`/`set`/`delete`/`flush` work on an in-memory copy and are recorded as changes;
/// [`Session::commit`], called by the adapter after the handler, persists them.
#[derive(Clone)]
pub struct Session {
    /// One allocation holds the manager handle and the state, so a clone (the adapter keeps
    /// one, the request's extensions another, every extraction a third) is one atomic
    /// increment.
    shared: Arc<Shared>,
}

struct Shared {
    manager: Manager,
    /// `futures_util`'s async mutex rather than tokio's: the lock is held across provider
    /// calls, so it must be async, but it is almost never contended, and releasing tokio's
    /// (FIFO, with a waiter list behind a lock) cost more on every request than releasing
    /// this one (one atomic when nobody waits).
    state: Mutex<State>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

/// The raw values of the session cookie, each followed by `;`, parsed on first use. Inline
/// up to 96 bytes (one signed ID), so a request's session state is one allocation.
pub(crate) type CookieValues = smallvec::SmallVec<[u8; 96]>;

struct State {
    cookie_values: CookieValues,
    /// Whether the client presented a well-formed ID (known once loaded).
    presented: bool,
    loaded: Option<Loaded>,
    /// Set when a backend error reached the handler; commit reports it again so the adapter
    /// answers 503 even if the handler swallowed it.
    failed: Option<String>,
    /// The cookie to send, decided by regenerate/destroy/insert.
    cookie: CookieAction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CookieAction {
    Keep,
    Set,
    Remove,
}

struct Loaded {
    /// The ID in use: adopted from the cookie, or assigned when the session first got data.
    id: Option<SessionId>,
    /// The stored version, when a record exists under `id`.
    version: Option<Version>,
    expires_at: Millis,
    /// When the record was read (0 when there is none). [`Session::commit_without_io`]
    /// judges whether an expiry refresh is due against it instead of reading the clock again.
    read_at: Millis,
    current: Record,
    /// Changes since the record was last read or written, replayed on conflict.
    changes: Vec<Change>,
}

/// One change a request made, kept to be replayed onto a newer stored record on conflict.
///
/// `Set` holds only the key: the value lives once, in the request's own record (which holds
/// every key's final value), instead of being copied into the log as well.
#[derive(Debug, Clone)]
enum Change {
    Set(String),
    Delete(String),
    Flush,
    Owner(Option<String>),
}

impl Change {
    /// Applies the change to the request's own record. A `Set` is already there: `set`
    /// stored the value itself.
    fn apply_own(&self, record: &mut Record) {
        match self {
            Change::Set(_) => {}
            Change::Delete(k) => {
                record.values.remove(k);
            }
            Change::Flush => {
                record.values.clear();
                record.owner = None;
            }
            Change::Owner(owner) => record.owner.clone_from(owner),
        }
    }

    /// Replays the change onto `target`, a newer record, taking set values from `ours`, the
    /// request's own record. A key `ours` lacks was removed by a later change in the same
    /// log, which the replay applies in turn, so skipping it here gives the same result.
    fn replay(&self, target: &mut Record, ours: &Record) {
        match self {
            Change::Set(k) => {
                if let Some(v) = ours.values.get(k) {
                    target.values.insert(k, v.clone());
                }
            }
            other => other.apply_own(target),
        }
    }
}

/// How far [`Session::adopt_now`] got.
enum Adopt {
    /// Done: the live session found, if any.
    Done(Option<Loaded>),
    /// The raw cookie values from this byte offset on need [`Session::adopt`].
    NeedsIo(usize),
}

/// The raw cookie values held in a [`CookieValues`], each with its byte offset.
fn raw_values(values: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut at = 0;
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

/// The longest owner [`Session::set_owner`] accepts, in bytes.
pub const MAX_OWNER_LEN: usize = 255;

fn check_owner(owner: &str) -> Result<()> {
    let problem = if owner.is_empty() {
        Some("is empty")
    } else if owner.len() > MAX_OWNER_LEN {
        Some("is longer than 255 bytes")
    } else if owner.chars().any(char::is_control) {
        Some("holds a control character")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(Error::Encode {
            key: "owner".into(),
            message: format!("the owner {problem}"),
        }),
        None => Ok(()),
    }
}

/// What the adapter must send after [`Session::commit`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Commit {
    /// A `Set-Cookie` header value, when the cookie must be set, rewritten or removed. When
    /// present, the response must also carry `Cache-Control: no-store`.
    pub set_cookie: Option<String>,
}

impl Session {
    pub(crate) fn new(manager: Manager, cookie_values: CookieValues) -> Self {
        Session {
            shared: Arc::new(Shared {
                manager,
                state: Mutex::new(State {
                    cookie_values,
                    presented: false,
                    loaded: None,
                    failed: None,
                    cookie: CookieAction::Keep,
                }),
            }),
        }
    }

    /// Commits at once when that needs no provider call, which is the common case: the
    /// handler never used the session, or only read it and no expiry refresh is due. Returns
    /// `None` when [`Session::commit`] must run instead: there are changes to write, a
    /// refresh is due, an earlier failure must be reported, or another task holds the
    /// session. Adapters call it first so that such requests skip the asynchronous commit
    /// (and the allocation its future needs in a `Service`).
    pub fn commit_without_io(&self) -> Option<Commit> {
        let mut state = self.shared.state.try_lock()?;
        if state.failed.is_some() {
            return None;
        }
        if let Some(loaded) = &state.loaded
            && (!loaded.changes.is_empty() || self.touch_due(loaded, loaded.read_at).is_some())
        {
            return None;
        }
        Some(self.take_commit(&mut state))
    }

    /// The manager this session belongs to.
    pub fn manager(&self) -> &Manager {
        &self.shared.manager
    }

    /// Value `key` decoded as `T`, or `None`. A stored value of another type is
    /// [`Error::Decode`].
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let mut state = self.shared.state.lock().await;
        let loaded = self.ensure_loaded(&mut state).await?;
        loaded
            .current
            .values
            .get(key)
            .map(|bytes| decode_value(key, bytes))
            .transpose()
    }

    /// Whether `key` is set.
    pub async fn contains(&self, key: &str) -> Result<bool> {
        let mut state = self.shared.state.lock().await;
        Ok(self
            .ensure_loaded(&mut state)
            .await?
            .current
            .values
            .contains_key(key))
    }

    /// The keys currently set.
    pub async fn keys(&self) -> Result<Vec<String>> {
        let mut state = self.shared.state.lock().await;
        Ok(self
            .ensure_loaded(&mut state)
            .await?
            .current
            .values
            .keys()
            .map(str::to_owned)
            .collect())
    }

    /// Sets `key` to `value`. Setting the value already stored is not a change.
    pub async fn set<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<()> {
        let bytes = encode_value(key, value)?;
        let mut state = self.shared.state.lock().await;
        let loaded = self.ensure_loaded(&mut state).await?;
        if loaded.current.values.get(key) != Some(&bytes) {
            loaded.current.values.insert(key, bytes);
            self.record(loaded, Change::Set(key.to_owned()))?;
        }
        Ok(())
    }

    /// Removes `key`; returns whether it was set.
    pub async fn delete(&self, key: &str) -> Result<bool> {
        let mut state = self.shared.state.lock().await;
        let loaded = self.ensure_loaded(&mut state).await?;
        let present = loaded.current.values.contains_key(key);
        if present {
            self.record(loaded, Change::Delete(key.to_owned()))?;
        }
        Ok(present)
    }

    /// Removes every key and the owner binding. An emptied session is deleted at commit and
    /// its cookie removed.
    pub async fn flush(&self) -> Result<()> {
        let mut state = self.shared.state.lock().await;
        let loaded = self.ensure_loaded(&mut state).await?;
        if !loaded.current.values.is_empty() || loaded.current.owner.is_some() {
            self.record(loaded, Change::Flush)?;
        }
        Ok(())
    }

    /// The session's ID: `None` for a new session that holds no data yet.
    pub async fn id(&self) -> Result<Option<SessionId>> {
        let mut state = self.shared.state.lock().await;
        Ok(self.ensure_loaded(&mut state).await?.id.clone())
    }

    /// The owner the session is bound to.
    pub async fn owner(&self) -> Result<Option<String>> {
        let mut state = self.shared.state.lock().await;
        Ok(self.ensure_loaded(&mut state).await?.current.owner.clone())
    }

    /// Binds the session to `owner` (typically a user ID, at login), or unbinds it with `None`.
    /// Providers with an owner index can then list and destroy an owner's sessions.
    ///
    /// An owner is 1 to [`MAX_OWNER_LEN`] bytes without control characters, so every provider
    /// can index it (SQL columns, key names, file names); anything else is [`Error::Encode`].
    pub async fn set_owner(&self, owner: Option<&str>) -> Result<()> {
        if let Some(owner) = owner {
            check_owner(owner)?;
        }
        let mut state = self.shared.state.lock().await;
        let loaded = self.ensure_loaded(&mut state).await?;
        if loaded.current.owner.as_deref() != owner {
            self.record(loaded, Change::Owner(owner.map(str::to_owned)))?;
        }
        Ok(())
    }

    /// Destroys every other session of this session's owner ("log out everywhere"); returns
    /// how many were destroyed. A session without owner destroys nothing.
    pub async fn destroy_other_sessions(&self) -> Result<usize> {
        let (owner, id) = {
            let mut state = self.shared.state.lock().await;
            let loaded = self.ensure_loaded(&mut state).await?;
            (loaded.current.owner.clone(), loaded.id.clone())
        };
        match owner {
            Some(owner) => {
                let result = self
                    .manager()
                    .destroy_owner_sessions(&owner, id.as_ref())
                    .await;
                self.note(result).await
            }
            None => Ok(0),
        }
    }

    /// Moves the session to a new ID, keeping its data (call it at login and on every
    /// privilege change). The old ID is deleted at once and no later write, from this request
    /// or a concurrent one, can bring it back.
    pub async fn regenerate(&self) -> Result<()> {
        let mut state = self.shared.state.lock().await;
        let result = self
            .regenerate_locked(&mut state)
            .instrument(crate::events::debug_span(|| {
                tracing::debug_span!("session.regenerate")
            }))
            .await;
        if let Err(e) = &result {
            note_failure(&mut state, e);
        }
        result
    }

    async fn regenerate_locked(&self, state: &mut State) -> Result<()> {
        self.ensure_loaded(state).await?;
        let Some(loaded) = state.loaded.as_mut() else {
            return Ok(());
        };
        let Some(old) = loaded.id.clone().filter(|_| loaded.version.is_some()) else {
            // Never stored: the insert at commit uses a fresh ID anyway.
            if loaded.id.is_some() {
                loaded.id = Some(self.new_id()?);
            }
            return Ok(());
        };
        let inner = &self.manager().inner;
        let mut id_attempts = 0;
        for attempt in 1..=MAX_SAVE_ATTEMPTS {
            // Start from the latest stored state so concurrent changes are carried over, and
            // move on condition of its version: of two concurrent moves only one wins.
            let Some((stored, mut record)) = self.manager().read_live(&old).await? else {
                // Destroyed or moved meanwhile: continue as a new session holding only this
                // request's changes.
                let mut fresh = Record::new(self.manager().clock().now());
                for change in &loaded.changes {
                    change.replay(&mut fresh, &loaded.current);
                }
                *loaded = self.fresh(fresh, loaded.changes.clone());
                return Ok(());
            };
            for change in &loaded.changes {
                change.replay(&mut record, &loaded.current);
            }
            let body = record.encode(inner.options.max_record_size)?;
            let expires_at = self.manager().next_expiry(record.created);
            let new = self.new_id()?;
            let write = self.write(&body, expires_at, record.owner.as_deref());
            let (old_key, new_key) = (self.manager().key(&old)?, self.manager().key(&new)?);
            match inner
                .store
                .regenerate(&old_key, stored.version, &new_key, write)
                .await?
            {
                Moved::Moved(version) => {
                    self.manager().emit(Event::Regenerated {
                        from: old.fingerprint(),
                        to: new.fingerprint(),
                    });
                    *loaded = Loaded {
                        id: Some(new),
                        version: Some(version),
                        expires_at,
                        read_at: self.manager().clock().now(),
                        current: record,
                        changes: Vec::new(),
                    };
                    state.cookie = CookieAction::Set;
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
                    self.manager().emit(Event::ConflictRetried {
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

    /// Deletes the session now and removes the cookie. The handle can be used afterwards: it is
    /// a new, empty session (setting data then creates a session under a new ID).
    pub async fn destroy(&self) -> Result<()> {
        let mut state = self.shared.state.lock().await;
        let result = self
            .destroy_locked(&mut state)
            .instrument(crate::events::debug_span(|| {
                tracing::debug_span!("session.destroy")
            }))
            .await;
        if let Err(e) = &result {
            note_failure(&mut state, e);
        }
        result
    }

    async fn destroy_locked(&self, state: &mut State) -> Result<()> {
        self.ensure_loaded(state).await?;
        let presented = state.presented;
        let Some(loaded) = state.loaded.as_mut() else {
            return Ok(());
        };
        if let (Some(id), Some(_)) = (&loaded.id, loaded.version) {
            self.manager()
                .inner
                .store
                .destroy(&*self.manager().key(id)?)
                .await?;
            self.manager().emit(Event::Destroyed {
                session: id.fingerprint(),
            });
        }
        let had_cookie = presented || state.cookie == CookieAction::Set;
        *loaded = self.fresh(Record::new(self.manager().clock().now()), Vec::new());
        state.cookie = if had_cookie {
            CookieAction::Remove
        } else {
            CookieAction::Keep
        };
        Ok(())
    }

    /// Persists this request's changes and says which cookie to send. Adapters call it once,
    /// after the handler. Does nothing (and costs no provider call) when the handler never
    /// touched the session.
    pub async fn commit(&self) -> Result<Commit> {
        let mut state = self.shared.state.lock().await;
        if let Some(message) = state.failed.take() {
            return Err(Error::backend(
                self.manager().store().provider(),
                format!("an earlier session operation failed: {message}"),
            ));
        }
        let result = self
            .persist(&mut state)
            .instrument(crate::events::debug_span(|| {
                tracing::debug_span!("session.save")
            }))
            .await;
        if let Err(e) = &result {
            note_failure(&mut state, e);
        }
        result?;
        Ok(self.take_commit(&mut state))
    }

    /// The cookie decided by this request, after its changes are persisted.
    fn take_commit(&self, state: &mut State) -> Commit {
        let options = &self.manager().inner.options;
        let set_cookie = match (state.cookie, state.loaded.as_ref()) {
            (CookieAction::Set, Some(Loaded { id: Some(id), .. })) => {
                let value = crate::protect::cookie_value(options, id);
                Some(cookies::session_cookie(options, &value))
            }
            (CookieAction::Remove, _) => Some(cookies::removal_cookie(options)),
            _ => None,
        };
        state.cookie = CookieAction::Keep;
        Commit { set_cookie }
    }

    async fn persist(&self, state: &mut State) -> Result<()> {
        let Some(loaded) = state.loaded.as_mut() else {
            return Ok(());
        };
        if loaded.changes.is_empty() {
            return self.maybe_touch(loaded, &mut state.cookie).await;
        }
        let empty = loaded.current.values.is_empty();
        match (loaded.version, empty) {
            (None, true) => {
                // Never stored and nothing to store.
                loaded.changes.clear();
                loaded.id = None;
                if state.cookie == CookieAction::Set {
                    state.cookie = CookieAction::Keep;
                }
                Ok(())
            }
            (None, false) => {
                self.insert_new(loaded).await?;
                state.cookie = CookieAction::Set;
                Ok(())
            }
            (Some(version), _) => self.save_existing(loaded, version, &mut state.cookie).await,
        }
    }

    async fn insert_new(&self, loaded: &mut Loaded) -> Result<()> {
        let inner = &self.manager().inner;
        let body = loaded.current.encode(inner.options.max_record_size)?;
        let expires_at = self.manager().next_expiry(loaded.current.created);
        for attempt in 0..MAX_ID_ATTEMPTS {
            let id = match loaded.id.take() {
                Some(id) if attempt == 0 => id,
                _ => self.new_id()?,
            };
            let write = self.write(&body, expires_at, loaded.current.owner.as_deref());
            match inner
                .store
                .insert(&*self.manager().key(&id)?, write)
                .await?
            {
                Inserted::Created(version) => {
                    self.manager().emit(Event::Created {
                        session: id.fingerprint(),
                    });
                    loaded.id = Some(id);
                    loaded.version = Some(version);
                    loaded.expires_at = expires_at;
                    loaded.changes.clear();
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
        &self,
        loaded: &mut Loaded,
        mut version: Version,
        cookie: &mut CookieAction,
    ) -> Result<()> {
        let inner = &self.manager().inner;
        let Some(id) = loaded.id.clone() else {
            return Ok(());
        };
        let key = self.manager().key(&id)?;
        for attempt in 1..=MAX_SAVE_ATTEMPTS {
            if loaded.current.values.is_empty() {
                inner.store.destroy(&key).await?;
                self.manager().emit(Event::Destroyed {
                    session: id.fingerprint(),
                });
                *loaded = self.fresh(Record::new(self.manager().clock().now()), Vec::new());
                *cookie = CookieAction::Remove;
                return Ok(());
            }
            let body = loaded.current.encode(inner.options.max_record_size)?;
            let expires_at = self.manager().next_expiry(loaded.current.created);
            let write = self.write(&body, expires_at, loaded.current.owner.as_deref());
            match inner.store.save(&key, version, write).await? {
                Saved::Saved(new_version) => {
                    loaded.version = Some(new_version);
                    loaded.expires_at = expires_at;
                    loaded.changes.clear();
                    if !inner.options.cookie_lifetime.is_zero() && *cookie == CookieAction::Keep {
                        // A persistent cookie slides with the server-side expiry.
                        *cookie = CookieAction::Set;
                    }
                    return Ok(());
                }
                Saved::Missing => return self.vanished(loaded, &id, cookie),
                Saved::Conflict => {
                    self.manager().emit(Event::ConflictRetried {
                        session: id.fingerprint(),
                        attempt,
                    });
                    backoff(attempt).await;
                    let Some((stored, mut record)) = self.manager().read_live(&id).await? else {
                        return self.vanished(loaded, &id, cookie);
                    };
                    for change in &loaded.changes {
                        change.replay(&mut record, &loaded.current);
                    }
                    loaded.current = record;
                    version = stored.version;
                }
            }
        }
        Err(Error::Conflict {
            attempts: MAX_SAVE_ATTEMPTS,
        })
    }

    /// The record was destroyed (logout, regenerate) by another request after this one loaded
    /// it: drop this request's changes rather than bring the session back, and leave the
    /// client's cookie alone (it may already hold a newer session's ID).
    fn vanished(
        &self,
        loaded: &mut Loaded,
        id: &SessionId,
        cookie: &mut CookieAction,
    ) -> Result<()> {
        tracing::debug!(session = %id, "session vanished during the request; changes dropped");
        *loaded = self.fresh(Record::new(self.manager().clock().now()), Vec::new());
        *cookie = CookieAction::Keep;
        Ok(())
    }

    /// The new expiry when a stored session's expiry should be refreshed at `now`: it would
    /// move by at least the touch interval.
    fn touch_due(&self, loaded: &Loaded, now: Millis) -> Option<Millis> {
        loaded.version?;
        loaded.id.as_ref()?;
        let expires_at = self.manager().expiry_at(loaded.current.created, now);
        let refreshed_by = expires_at.saturating_sub(loaded.expires_at);
        (refreshed_by >= self.manager().inner.touch_ms.max(1)).then_some(expires_at)
    }

    async fn maybe_touch(&self, loaded: &mut Loaded, cookie: &mut CookieAction) -> Result<()> {
        let Some(expires_at) = self.touch_due(loaded, self.manager().clock().now()) else {
            return Ok(());
        };
        let Some(id) = &loaded.id else {
            return Ok(());
        };
        let inner = &self.manager().inner;
        let now = self.manager().clock().now();
        let ttl = expires_at.saturating_sub(now).max(1);
        let touched = inner
            .store
            .touch(&*self.manager().key(id)?, expires_at, ttl)
            .instrument(crate::events::debug_span(
                || tracing::debug_span!("session.touch", session = %id),
            ))
            .await?;
        if touched {
            loaded.expires_at = expires_at;
            if !inner.options.cookie_lifetime.is_zero() && *cookie == CookieAction::Keep {
                *cookie = CookieAction::Set;
            }
        } else {
            let id = id.clone();
            self.vanished(loaded, &id, cookie)?;
        }
        Ok(())
    }

    async fn ensure_loaded<'s>(&self, state: &'s mut State) -> Result<&'s mut Loaded> {
        if state.loaded.is_none() {
            // The raw values stay in the state: after an outage a later call tries them again.
            let mut presented = false;
            let adopted = match self.adopt_now(&state.cookie_values, &mut presented) {
                Ok(Adopt::Done(adopted)) => Ok(adopted),
                // Boxed: the futures of `get`, `set` and the rest then stay small for stores
                // that answer in memory (moving a future copies all of it), and a store that
                // needs I/O pays one allocation next to a network round trip.
                Ok(Adopt::NeedsIo(from)) => {
                    Box::pin(self.adopt(&state.cookie_values[from..], &mut presented)).await
                }
                Err(e) => Err(e),
            };
            state.presented = presented;
            match adopted {
                Ok(adopted) => {
                    let loaded = adopted.unwrap_or_else(|| {
                        self.fresh(Record::new(self.manager().clock().now()), Vec::new())
                    });
                    state.loaded = Some(loaded);
                }
                Err(e) => {
                    note_failure(state, &e);
                    return Err(e);
                }
            }
        }
        state
            .loaded
            .as_mut()
            .ok_or_else(|| Error::Corrupt("session state missing".into()))
    }

    /// The first live session among the raw cookie `values`, looked up without an `.await`
    /// while the store answers in memory; from the first ID that needs I/O (or a dead record
    /// that must be deleted) on, [`Session::adopt`] takes over. Values are parsed one at a
    /// time, so the usual single cookie costs one ID and no list of candidates.
    /// `presented` becomes true once a well-formed ID is seen.
    fn adopt_now(&self, values: &[u8], presented: &mut bool) -> Result<Adopt> {
        for (at, value) in raw_values(values) {
            let mut buf = IdBuf::new();
            let Some(id) = self.manager().cookie_id(value, &mut buf) else {
                continue;
            };
            *presented = true;
            let _span = crate::events::debug_span(
                || tracing::debug_span!("session.load", session = %crate::id::fingerprint(id)),
            )
            .entered();
            match self.manager().read_now(id) {
                None | Some(Ok((Found::Dead { .. }, _))) => return Ok(Adopt::NeedsIo(at)),
                Some(Ok((Found::Absent(event), _))) => self.manager().emit(event),
                Some(Ok((Found::Live(stored, record, now), own))) => {
                    let id = match own {
                        Some(own) => own,
                        None => SessionId::parse(id, self.manager().options().id_length)?,
                    };
                    return Ok(Adopt::Done(Some(self.adopted(id, stored, record, now))));
                }
                Some(Err(e)) => return Err(e),
            }
        }
        Ok(Adopt::Done(None))
    }

    /// The first live session among the raw cookie `values`, read with `.await`.
    async fn adopt(&self, values: &[u8], presented: &mut bool) -> Result<Option<Loaded>> {
        for (_, value) in raw_values(values) {
            let mut buf = IdBuf::new();
            let Some(id) = self.manager().cookie_id(value, &mut buf) else {
                continue;
            };
            *presented = true;
            let id = SessionId::parse(id, self.manager().options().id_length)?;
            if let Some((stored, record)) = self.manager().read_live(&id).await? {
                let now = self.manager().clock().now();
                return Ok(Some(self.adopted(id, stored, record, now)));
            }
        }
        Ok(None)
    }

    fn adopted(&self, id: SessionId, stored: Stored, record: Record, read_at: Millis) -> Loaded {
        Loaded {
            id: Some(id),
            version: Some(stored.version),
            expires_at: stored.expires_at,
            read_at,
            current: record,
            changes: Vec::new(),
        }
    }

    fn fresh(&self, current: Record, changes: Vec<Change>) -> Loaded {
        Loaded {
            id: None,
            version: None,
            expires_at: 0,
            read_at: 0,
            current,
            changes,
        }
    }

    fn record(&self, loaded: &mut Loaded, change: Change) -> Result<()> {
        change.apply_own(&mut loaded.current);
        loaded.changes.push(change);
        if loaded.id.is_none() && !loaded.current.values.is_empty() {
            // A new session gets its ID when it first holds data, so handlers can see it.
            loaded.id = Some(self.new_id()?);
        }
        Ok(())
    }

    fn new_id(&self) -> Result<SessionId> {
        SessionId::generate(self.manager().inner.options.id_length)
    }

    fn write<'a>(&self, body: &'a [u8], expires_at: Millis, owner: Option<&'a str>) -> Write<'a> {
        let now = self.manager().clock().now();
        Write {
            body,
            expires_at,
            ttl_ms: expires_at.saturating_sub(now).max(1),
            owner,
        }
    }

    async fn note<T>(&self, result: Result<T>) -> Result<T> {
        if let Err(e) = &result {
            note_failure(&mut *self.shared.state.lock().await, e);
        }
        result
    }
}

fn note_failure(state: &mut State, error: &Error) {
    if error.is_backend() {
        state.failed = Some(error.to_string());
    }
}

async fn backoff(attempt: u32) {
    let mut jitter = [0u8; 1];
    let _ = getrandom::fill(&mut jitter);
    let micros = u64::from(jitter[0]) * u64::from(attempt.min(20)) * 4;
    if attempt <= 2 {
        tokio::task::yield_now().await;
    } else {
        tokio::time::sleep(Duration::from_micros(micros)).await;
    }
}
