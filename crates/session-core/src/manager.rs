//! The [`Manager`]: one provider store plus the options, shared by every request.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::Instrument as _;

use crate::clock::{Clock, Millis, SystemClock, duration_millis};
use crate::cookies;
use crate::error::{Error, Result};
use crate::events::{Event, EventHook};
use crate::id::SessionId;
use crate::options::Options;
use crate::protect::{self, Rejected};
use crate::record::{Record, decode_value};
use crate::registry::Registry;
use crate::session::{CookieValues, Session};
use crate::store::{ProviderContext, RawStore, Stored};

/// Owns the provider store and the options; cheap to clone (an `Arc`).
///
/// Per request, an adapter calls [`Manager::load`] with the request's `Cookie` headers, hands
/// the [`Session`] to the handler, and afterwards calls [`Session::commit`] to persist changes
/// and learn which `Set-Cookie` to send.
#[derive(Clone)]
pub struct Manager {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) options: Options,
    pub(crate) store: Arc<dyn RawStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) idle_ms: Millis,
    pub(crate) absolute_ms: Option<Millis>,
    pub(crate) touch_ms: Millis,
    pub(crate) hook: OnceLock<EventHook>,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("provider", &self.inner.store.provider())
            .field("options", &self.inner.options)
            .finish()
    }
}

impl Manager {
    /// Validates `options` and opens a store of `options.provider` from `registry`.
    pub async fn new(options: Options, registry: &Registry) -> Result<Self> {
        Self::new_with_clock(options, registry, Arc::new(SystemClock)).await
    }

    /// Like [`Manager::new`] with a given clock (tests use [`crate::MockClock`]).
    pub async fn new_with_clock(
        options: Options,
        registry: &Registry,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        options.validate()?;
        let ctx = ProviderContext {
            clock: clock.clone(),
            max_record_size: options.max_record_size,
            max_lifetime_ms: duration_millis(options.idle_lifetime()),
        };
        let store = registry
            .open(&options.provider, &options.provider_config, &ctx)
            .await?;
        Self::with_store(options, store, clock)
    }

    /// Builds a manager around an already opened store (`options.provider` is not consulted).
    pub fn with_store(
        options: Options,
        store: Arc<dyn RawStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        options.validate()?;
        Ok(Manager {
            inner: Arc::new(Inner {
                idle_ms: duration_millis(options.idle_lifetime()),
                absolute_ms: options.absolute_lifetime.map(duration_millis),
                touch_ms: duration_millis(options.effective_touch_interval()),
                hook: OnceLock::new(),
                options,
                store,
                clock,
            }),
        })
    }

    /// Sets the hook that receives every lifecycle [`Event`]; it can be set once.
    pub fn set_event_hook(&self, hook: EventHook) -> Result<()> {
        self.inner
            .hook
            .set(hook)
            .map_err(|_| Error::config("event_hook", "an event hook is already set"))
    }

    pub(crate) fn emit(&self, event: Event) {
        tracing::debug!(?event, "session event");
        if let Some(hook) = self.inner.hook.get() {
            hook(&event);
        }
    }

    /// The backend key for a session ID (its hash when `hash_ids` is on).
    pub(crate) fn key<'a>(&self, id: &'a SessionId) -> Result<std::borrow::Cow<'a, SessionId>> {
        protect::storage_key(&self.inner.options, id)
    }

    /// The options in effect.
    pub fn options(&self) -> &Options {
        &self.inner.options
    }

    /// The provider store (for admin tools and tests).
    pub fn store(&self) -> &Arc<dyn RawStore> {
        &self.inner.store
    }

    /// The manager's clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// Starts a request's session from its `Cookie` header values. Nothing is read from the
    /// provider until the handler first uses the session; values of the cookie that are not
    /// well-formed IDs (or, with signing keys, do not verify) are dropped then, before any
    /// provider call.
    ///
    /// When the cookie appears several times (cookie tossing, stale paths), each well-formed
    /// value is tried in order and the first live session is used; an unknown value is never
    /// adopted.
    pub fn load<'a>(&self, cookie_headers: impl IntoIterator<Item = &'a str>) -> Session {
        self.load_bytes(cookie_headers.into_iter().map(str::as_bytes))
    }

    /// [`Manager::load`] from the raw bytes of the `Cookie` header values, as HTTP libraries
    /// hold them: saves adapters checking that every header is text (only the session
    /// cookie's own value has to be).
    pub fn load_bytes<'a>(&self, cookie_headers: impl IntoIterator<Item = &'a [u8]>) -> Session {
        // Only the raw values are kept here; parsing and signature checks wait for the first
        // use, so a handler that never looks at its session pays for one scan of the header.
        let mut values = CookieValues::new();
        cookies::for_each_value(cookie_headers, &self.inner.options.cookie_name, |value| {
            // `;` cannot occur in a cookie value, so it separates the candidates.
            if !value.is_empty() {
                values.extend_from_slice(value);
                values.push(b';');
            }
        });
        Session::new(self.clone(), values)
    }

    /// The ID in one raw cookie value, if it is well-formed (and, with signing keys,
    /// verifies); a value that fails its signature check is reported as an event.
    pub(crate) fn cookie_id<'v>(&self, value: &'v [u8], buf: &'v mut IdBuf) -> Option<&'v str> {
        let value = buf.text(value)?;
        match protect::parse_cookie_value(&self.inner.options, value) {
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
        let id = SessionId::parse(sid, self.inner.options.id_length)?;
        Ok(self
            .read_live(&id)
            .await?
            .map(|(_, record)| SessionData { id, record }))
    }

    /// Reads and checks a record: `None` when absent, expired or corrupt (the latter two are
    /// deleted, best effort).
    pub(crate) async fn read_live(&self, id: &SessionId) -> Result<Option<(Stored, Record)>> {
        let span =
            crate::events::debug_span(|| tracing::debug_span!("session.load", session = %id));
        self.read_live_inner(id).instrument(span).await
    }

    async fn read_live_inner(&self, id: &SessionId) -> Result<Option<(Stored, Record)>> {
        let store = &self.inner.store;
        let key = self.key(id)?;
        let read = match store.read_in_memory(key.as_str()) {
            Some(read) => read.map(|found| found.map(|(_, stored)| stored)),
            None => store.read(&key).await,
        };
        match self.check(id.as_str(), read)? {
            Found::Live(stored, record, _) => Ok(Some((stored, record))),
            Found::Absent(event) => {
                self.emit(event);
                Ok(None)
            }
            Found::Dead { event, corrupt } => {
                if let Some(error) = corrupt {
                    tracing::warn!(session = %id, %error, "corrupt session record treated as absent");
                }
                self.emit(event);
                self.discard(&key).await;
                Ok(None)
            }
        }
    }

    /// [`Manager::read_live`] without an `.await`, for stores that answer in memory
    /// ([`RawStore::read_in_memory`]): `None` when the store needs one. Nothing is reported
    /// or deleted here: a [`Found::Dead`] record is left for `read_live` to delete.
    ///
    /// `id` is a checked cookie ID not yet copied into a [`SessionId`]. A record comes with
    /// the store's own `SessionId` for its key when that key is the ID itself (IDs not
    /// hashed): adopting the session then takes a reference count, not an allocation.
    pub(crate) fn read_now(&self, id: &str) -> Option<Result<(Found, Option<SessionId>)>> {
        let store = &self.inner.store;
        if self.inner.options.hash_ids {
            // The store's key is the hash, not the ID: nothing of it to adopt.
            let key = match protect::hashed_key(&self.inner.options, id) {
                Ok(key) => key,
                Err(e) => return Some(Err(e)),
            };
            let read = store.read_in_memory(key.as_str())?;
            let read = read.map(|found| found.map(|(_, stored)| stored));
            return Some(self.check(id, read).map(|found| (found, None)));
        }
        let (own, read) = match store.read_in_memory(id)? {
            Ok(Some((own, stored))) => (Some(own), Ok(Some(stored))),
            Ok(None) => (None, Ok(None)),
            Err(e) => (None, Err(e)),
        };
        Some(self.check(id, read).map(|found| (found, own)))
    }

    /// What a read of `id` found, checked for corruption and expiry; no I/O.
    fn check(&self, id: &str, read: Result<Option<Stored>>) -> Result<Found> {
        let corrupt = |error: String| Found::Dead {
            event: Event::Corrupt {
                session: crate::id::fingerprint(id),
            },
            corrupt: Some(error),
        };
        let stored = match read {
            Ok(Some(stored)) => stored,
            Ok(None) => {
                return Ok(Found::Absent(Event::UnknownId {
                    session: crate::id::fingerprint(id),
                }));
            }
            // A record the provider itself cannot parse is as good as absent, like one whose
            // body does not decode: a corrupt record must not become a 500 on every request.
            Err(Error::Corrupt(e)) => return Ok(corrupt(e)),
            Err(e) => return Err(e),
        };
        if stored.body == crate::record::TOMBSTONE {
            // Mid-move (regenerate): the session lives under its new ID now.
            return Ok(Found::Absent(Event::UnknownId {
                session: crate::id::fingerprint(id),
            }));
        }
        let record = match Record::decode(&stored.body, self.inner.options.max_record_size) {
            Ok(record) => record,
            Err(e) => return Ok(corrupt(e.to_string())),
        };
        let now = self.inner.clock.now();
        if stored.expires_at <= now || self.absolute_deadline(record.created) <= now {
            return Ok(Found::Dead {
                event: Event::Expired {
                    session: crate::id::fingerprint(id),
                },
                corrupt: None,
            });
        }
        Ok(Found::Live(stored, record, now))
    }

    async fn discard(&self, key: &SessionId) {
        if let Err(e) = self.inner.store.destroy(key).await {
            tracing::warn!(session = %key, error = %e, "could not delete a dead session record");
        }
    }

    /// The instant a session created at `created` reaches its absolute lifetime.
    pub(crate) fn absolute_deadline(&self, created: Millis) -> Millis {
        self.inner
            .absolute_ms
            .map_or(Millis::MAX, |abs| created.saturating_add(abs))
    }

    /// The expiry to write now for a session created at `created`.
    pub(crate) fn next_expiry(&self, created: Millis) -> Millis {
        self.expiry_at(created, self.inner.clock.now())
    }

    /// The expiry to write at `now` for a session created at `created`.
    pub(crate) fn expiry_at(&self, created: Millis, now: Millis) -> Millis {
        now.saturating_add(self.inner.idle_ms)
            .min(self.absolute_deadline(created))
    }

    /// Deletes session `id` (the ID a cookie carries; admin use); returns whether it existed.
    pub async fn destroy_id(&self, id: &SessionId) -> Result<bool> {
        let destroyed = self.inner.store.destroy(&*self.key(id)?).await?;
        if destroyed {
            self.emit(Event::Destroyed {
                session: id.fingerprint(),
            });
        }
        Ok(destroyed)
    }

    /// Counts live sessions, or [`Error::Unsupported`] when the provider cannot.
    pub async fn count(&self) -> Result<u64> {
        self.inner.store.count(self.inner.clock.now()).await
    }

    /// Runs one GC pass now; returns how many expired sessions were removed.
    pub async fn gc(&self) -> Result<u64> {
        let now = self.inner.clock.now();
        self.inner
            .store
            .gc(now)
            .instrument(crate::events::debug_span(|| {
                tracing::debug_span!("session.gc")
            }))
            .await
    }

    /// The live sessions bound to `owner`, or [`Error::Unsupported`]. These are backend
    /// handles: with `hash_ids` on they are hashes, never usable as cookies.
    pub async fn owner_sessions(&self, owner: &str) -> Result<Vec<SessionId>> {
        self.inner
            .store
            .owner_sessions(owner, self.inner.clock.now())
            .await
    }

    /// Destroys every session of `owner` except `keep` (a cookie's ID; "log out
    /// everywhere"); returns how many were destroyed.
    pub async fn destroy_owner_sessions(
        &self,
        owner: &str,
        keep: Option<&SessionId>,
    ) -> Result<usize> {
        let keep = keep.map(|id| self.key(id)).transpose()?;
        let mut destroyed = 0;
        for handle in self.owner_sessions(owner).await? {
            if Some(&handle) != keep.as_deref() && self.inner.store.destroy(&handle).await? {
                self.emit(Event::Destroyed {
                    session: handle.fingerprint(),
                });
                destroyed += 1;
            }
        }
        Ok(destroyed)
    }

    /// Starts GC on a background task every `gc_interval`. The task logs errors and carries on;
    /// it stops when the returned handle is stopped or dropped.
    pub fn start_gc(&self) -> GcHandle {
        self.start_gc_every(self.inner.options.gc_interval)
    }

    /// Like [`Manager::start_gc`] with an explicit period.
    pub fn start_gc_every(&self, period: Duration) -> GcHandle {
        let (stop, mut stopped) = oneshot::channel::<()>();
        let manager = self.clone();
        let task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(period);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await; // the first tick is immediate; GC starts one period later
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = ticker.tick() => {}
                }
                match manager.gc().await {
                    Ok(removed) => tracing::debug!(removed, "session gc pass"),
                    Err(e) => tracing::warn!(error = %e, "session gc pass failed; will retry"),
                }
            }
        });
        GcHandle {
            stop: Some(stop),
            task: Some(task),
        }
    }
}

/// A running GC task; stopping or dropping it ends the task.
#[derive(Debug)]
pub struct GcHandle {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl GcHandle {
    /// Stops the task and waits for a pass in progress to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Whether the task is still running.
    pub fn is_running(&self) -> bool {
        self.task.as_ref().is_some_and(|t| !t.is_finished())
    }
}

impl Drop for GcHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// What a read of one session ID found.
pub(crate) enum Found {
    /// A live record, and the time it was judged live at.
    Live(Stored, Record, Millis),
    /// No record: the ID is unknown (the event reports it).
    Absent(Event),
    /// An expired or corrupt record, to report and delete (best effort).
    Dead {
        /// What to report.
        event: Event,
        /// Why the record is corrupt (for the log); `None` when it expired.
        corrupt: Option<String>,
    },
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

/// Room for the longest cookie value that can carry an ID: 128 hex characters, a `.` and a
/// 43-character HMAC-SHA256 signature.
const MAX_ID_VALUE: usize = 176;

/// A buffer that checks a cookie value is UTF-8 from an 8-byte-aligned copy.
///
/// std's UTF-8 check walks byte by byte up to the first aligned address and only then
/// checks ASCII a word at a time; a cookie value sits at any offset in the header. For a
/// 32-character ID, copying it to an aligned buffer and checking there costs well under
/// half of checking it in place (measured with callgrind: about 50 instructions against
/// 168), and this runs on every request that uses its session.
#[repr(align(8))]
pub(crate) struct IdBuf([u8; MAX_ID_VALUE]);

impl IdBuf {
    pub(crate) fn new() -> Self {
        IdBuf([0; MAX_ID_VALUE])
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
