//! The per-request session handle: its lock, its working copy and the
//! cookie it has decided, on top of `load` (reading the session) and `commit` (writing it
//! back).

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};

use futures_util::lock::Mutex;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument as _;

use crate::commit::{self, CookieAction};
use crate::cookies;
use crate::error::{Error, Result};
use crate::id::SessionId;
use crate::load::{self, Adopt, CookieValues};
use crate::manager::Manager;
use crate::outage::OutagePolicy;
use crate::record::{decode_value, encode_value};
use crate::transport::{self, Presented, TokenHeaders, Transport};
use crate::working::{Change, WorkingCopy};

pub use crate::commit::Commit;

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
    /// calls, so it must be async, but it is almost never contended, and releasing this one
    /// costs one atomic when nobody waits, where tokio's fair mutex does more on every
    /// request.
    state: Mutex<State>,
    /// The request's [`OutagePolicy`] is `Anonymous`. Outside the lock, so an adapter's
    /// per-route override is a plain store, with no `.await`.
    anonymous: AtomicBool,
    /// The request's [`Transport`] (as [`Transport::to_u8`]); like `anonymous`, outside the
    /// lock so an adapter's per-route override needs no `.await`.
    transport: AtomicU8,
    /// The token header's content, when the request carries the header (empty when it
    /// cannot hold a token). Set once, by the adapter, before the session is first used.
    token: OnceLock<Box<[u8]>>,
    /// What the adapter said about the client, kept for device metadata
    /// ([`crate::devices`]); set once, before the session is first used.
    /// Boxed: most requests carry none, and a smaller `Shared` is cheaper to set up.
    client: OnceLock<Box<crate::devices::ClientInfo>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

struct State {
    /// The candidate IDs: the session cookie's values, replaced by the token when the
    /// request's transport reads the header.
    cookie_values: CookieValues,
    /// The transport in effect when the session was loaded, and whether the ID came (and
    /// the answer goes) through the header.
    transport: Transport,
    via_header: bool,
    /// Whether the client presented a well-formed ID (known once loaded).
    presented: bool,
    working: Option<WorkingCopy>,
    /// Set when a backend error reached the handler; commit reports it again so the adapter
    /// answers 503 even if the handler swallowed it.
    failed: Option<String>,
    /// The store could not be read under `OutagePolicy::Anonymous`: `working` is an empty
    /// stand-in for the rest of the request, and writes are refused.
    degraded: bool,
    /// The cookie to send, decided by regenerate/destroy/insert.
    cookie: CookieAction,
    /// The session was bound to an owner in this request and a per-owner cap is
    /// configured: the commit enforces it once the binding is written.
    bound: bool,
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

impl Manager {
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
        self.load_cookies(cookie_headers)
    }

    /// [`Manager::load_bytes`] with the lines of the token header as well
    /// ([`Manager::token_header`], `Authorization` by default), which are used when the
    /// request's [`Transport`] is `header` or `both` ([`crate::transport`]). Adapters pass
    /// them when the manager's transport is not `cookie`; a route that switches to another
    /// transport hands them over with [`Session::present_token`].
    pub fn load_with_token<'a>(
        &self,
        cookie_headers: impl IntoIterator<Item = &'a [u8]>,
        token_lines: impl IntoIterator<Item = &'a [u8]>,
    ) -> Session {
        let session = self.load_cookies(cookie_headers);
        session.present_token(token_lines);
        session
    }

    fn load_cookies<'a>(&self, cookie_headers: impl IntoIterator<Item = &'a [u8]>) -> Session {
        // Only the raw values are kept here; parsing and signature checks wait for the first
        // use, so a handler that never looks at its session pays for one scan of the header.
        let mut values = CookieValues::new();
        cookies::for_each_value(cookie_headers, &self.options().cookie_name, |value| {
            // `;` cannot occur in a cookie value, so it separates the candidates.
            if !value.is_empty() {
                values.extend_from_slice(value);
                values.push(b';');
            }
        });
        Session::new(self.clone(), values)
    }
}

impl Session {
    fn new(manager: Manager, cookie_values: CookieValues) -> Self {
        let anonymous = manager.options().outage_policy == OutagePolicy::Anonymous;
        let transport = manager.options().transport;
        Session {
            shared: Arc::new(Shared {
                anonymous: AtomicBool::new(anonymous),
                transport: AtomicU8::new(transport.to_u8()),
                token: OnceLock::new(),
                client: OnceLock::new(),
                manager,
                state: Mutex::new(State {
                    cookie_values,
                    transport,
                    via_header: false,
                    presented: false,
                    working: None,
                    failed: None,
                    degraded: false,
                    cookie: CookieAction::Keep,
                    bound: false,
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
        if state.failed.is_some() || state.bound {
            return None;
        }
        if let Some(working) = &state.working
            && commit::needs_io(self.manager(), working)
        {
            return None;
        }
        Some(self.take_commit(&mut state))
    }

    /// The manager this session belongs to.
    pub fn manager(&self) -> &Manager {
        &self.shared.manager
    }

    /// Overrides the manager's [`crate::Options::outage_policy`] for this request. Adapters
    /// call it for the routes configured with a policy of their own, before the handler
    /// runs: the policy applies when the session is first read (see [`crate::outage`]).
    pub fn set_outage_policy(&self, policy: OutagePolicy) {
        self.shared
            .anonymous
            .store(policy == OutagePolicy::Anonymous, Ordering::Relaxed);
    }

    /// The outage policy this request runs under.
    pub fn outage_policy(&self) -> OutagePolicy {
        if self.shared.anonymous.load(Ordering::Relaxed) {
            OutagePolicy::Anonymous
        } else {
            OutagePolicy::Fail
        }
    }

    /// Overrides the manager's [`crate::Options::transport`] for this request. Adapters call
    /// it for the routes configured with a transport of their own, before the handler runs:
    /// the transport is fixed when the session is first used (see [`crate::transport`]).
    pub fn set_transport(&self, transport: Transport) {
        self.shared
            .transport
            .store(transport.to_u8(), Ordering::Relaxed);
    }

    /// Hands over the lines of the request's token header ([`Manager::token_header`]), for
    /// the `header` and `both` transports. [`Manager::load_with_token`] does it for managers
    /// whose transport is not `cookie`; an adapter's per-route override to such a transport
    /// does it before the handler runs. Only the first call counts: the lines are the
    /// request's, whoever passes them.
    pub fn present_token<'a>(&self, lines: impl IntoIterator<Item = &'a [u8]>) {
        if self.shared.token.get().is_some() {
            return;
        }
        let token_header = &self.manager().inner.token_names.request;
        if let Presented::Token(token) = transport::presented(token_header, lines.into_iter()) {
            let _ = self.shared.token.set(Box::from(token));
        }
    }

    /// The transport this request runs under.
    pub fn transport(&self) -> Transport {
        Transport::from_u8(self.shared.transport.load(Ordering::Relaxed))
    }

    /// Whether this request is served an empty, read-only session because the store could
    /// not be read (under [`OutagePolicy::Anonymous`]); false until the session is first
    /// read. A page can use it to say that some features are off for a moment.
    pub async fn is_degraded(&self) -> bool {
        self.shared.state.lock().await.degraded
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
        let loaded = self.writable(&mut state, "set").await?;
        if loaded.current.values.get(key) != Some(&bytes) {
            loaded.current.values.insert(key, bytes);
            loaded.change(Change::Set(key.to_owned()), || self.manager().new_id())?;
        }
        Ok(())
    }

    /// Removes `key`; returns whether it was set.
    pub async fn delete(&self, key: &str) -> Result<bool> {
        let mut state = self.shared.state.lock().await;
        let loaded = self.writable(&mut state, "delete").await?;
        let present = loaded.current.values.contains_key(key);
        if present {
            loaded.change(Change::Delete(key.to_owned()), || self.manager().new_id())?;
        }
        Ok(present)
    }

    /// Removes every key, the owner binding and the session's own lifetime. An emptied session is deleted at commit and
    /// its cookie removed.
    pub async fn flush(&self) -> Result<()> {
        let mut state = self.shared.state.lock().await;
        let loaded = self.writable(&mut state, "flush").await?;
        if !loaded.current.values.is_empty()
            || loaded.current.owner.is_some()
            || loaded.current.lifetime.is_some()
        {
            loaded.change(Change::Flush, || self.manager().new_id())?;
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
    ///
    /// Binding records what [`crate::devices`] shows (with device metadata on, the client's
    /// user agent and network); with a per-owner cap, binding is where the cap applies: under
    /// `refuse` an owner at the cap is refused here with [`Error::SessionLimit`], nothing
    /// changed, and under either policy the commit ranks the owner's sessions once the
    /// binding is written.
    pub async fn set_owner(&self, owner: Option<&str>) -> Result<()> {
        if let Some(owner) = owner {
            check_owner(owner)?;
        }
        let mut state = self.shared.state.lock().await;
        let loaded = self.writable(&mut state, "set_owner").await?;
        if loaded.current.owner.as_deref() == owner {
            return Ok(());
        }
        if let Some(owner) = owner {
            let room = self.manager().check_owner_room(owner).await;
            note_failure(&mut state, room)?;
        }
        let binding = match owner {
            Some(_) => self
                .manager()
                .binding(self.shared.client.get().map(|c| &**c)),
            None => crate::record::Binding::default(),
        };
        let loaded = self.writable(&mut state, "set_owner").await?;
        let new_id = || self.manager().new_id();
        loaded.change(Change::Owner(owner.map(str::to_owned)), new_id)?;
        if loaded.current.binding.as_deref() != Some(&binding).filter(|b| !b.is_empty()) {
            loaded.change(Change::Binding(binding), new_id)?;
        }
        state.bound = owner.is_some() && self.manager().options().max_sessions_per_owner.is_some();
        Ok(())
    }

    /// Applies the change `decide` makes of the current record, if any, and has the cookie
    /// sent again (for changes the cookie reflects, such as the session's lifetime).
    pub(crate) async fn change_with_cookie(
        &self,
        operation: &'static str,
        decide: impl FnOnce(&crate::record::Record) -> Option<Change>,
    ) -> Result<()> {
        let mut state = self.shared.state.lock().await;
        self.writable(&mut state, operation).await?;
        let (loaded, cookie) = self.loaded(&mut state).await?;
        if let Some(change) = decide(&loaded.current) {
            loaded.change(change, || self.manager().new_id())?;
            *cookie = CookieAction::Set;
        }
        Ok(())
    }

    /// `read` of the current record.
    pub(crate) async fn record_field<T>(
        &self,
        read: impl FnOnce(&crate::record::Record) -> T,
    ) -> Result<T> {
        let mut state = self.shared.state.lock().await;
        Ok(read(&self.ensure_loaded(&mut state).await?.current))
    }

    /// Destroys every other session of this session's owner ("log out everywhere"); returns
    /// how many were destroyed. A session without owner destroys nothing.
    pub async fn destroy_other_sessions(&self) -> Result<usize> {
        let (owner, id) = {
            let mut state = self.shared.state.lock().await;
            let loaded = self.writable(&mut state, "destroy_other_sessions").await?;
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
    /// privilege change), with a fresh CSRF token if it held one ([`crate::csrf`]). The old ID is deleted at once and no later write, from this request
    /// or a concurrent one, can bring it back. Of two requests regenerating one session at
    /// once, one carries the data over; the other continues as a new session holding only
    /// its own changes.
    pub async fn regenerate(&self) -> Result<()> {
        let mut state = self.shared.state.lock().await;
        let result = async {
            self.writable(&mut state, "regenerate").await?;
            let (working, cookie) = self.loaded(&mut state).await?;
            // A CSRF token seen before the login must not be good after it.
            crate::csrf::rotate(working, || self.manager().new_id())?;
            commit::regenerate(self.manager(), working, cookie).await
        }
        .instrument(crate::events::debug_span(|| {
            tracing::debug_span!("session.regenerate")
        }))
        .await;
        note_failure(&mut state, result)
    }

    /// Deletes the session now and removes the cookie. The handle can be used afterwards: it is
    /// a new, empty session (setting data then creates a session under a new ID).
    pub async fn destroy(&self) -> Result<()> {
        let mut state = self.shared.state.lock().await;
        let result = async {
            self.writable(&mut state, "destroy").await?;
            let presented = state.presented;
            let (working, cookie) = self.loaded(&mut state).await?;
            commit::destroy(self.manager(), working, presented, cookie).await
        }
        .instrument(crate::events::debug_span(|| {
            tracing::debug_span!("session.destroy")
        }))
        .await;
        note_failure(&mut state, result)
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
        let State {
            working,
            cookie,
            bound,
            ..
        } = &mut *state;
        let result = match working {
            Some(working) => {
                let refresh_only = working.changes.is_empty();
                let result = commit::persist(self.manager(), working, cookie)
                    .instrument(crate::events::debug_span(|| {
                        tracing::debug_span!("session.save")
                    }))
                    .await;
                let result = match result {
                    // The binding is written: now the owner's sessions can be ranked.
                    // Boxed: only a login under a cap gets here, and the commit's future is
                    // copied on every written request (see `commit::persist`).
                    Ok(()) if std::mem::take(bound) => {
                        Box::pin(crate::devices::enforce(self.manager(), working, cookie)).await
                    }
                    result => result,
                };
                match result {
                    // Nothing the handler asked for is lost: the next request refreshes it.
                    Err(e) if refresh_only && e.is_backend() && self.is_anonymous() => {
                        tracing::warn!(error = %e, "session expiry refresh skipped: the store is unavailable");
                        Ok(())
                    }
                    result => result,
                }
            }
            None => Ok(()),
        };
        note_failure(&mut state, result)?;
        Ok(self.take_commit(&mut state))
    }

    /// The cookie, or token, decided by this request, once its changes are persisted.
    fn take_commit(&self, state: &mut State) -> Commit {
        let manager = self.manager();
        let used = state.working.is_some();
        if !state.via_header {
            let mut commit =
                commit::take_commit(manager, state.working.as_ref(), &mut state.cookie);
            if used && state.transport == Transport::Both {
                // Answered by cookie, but a header would have been read first.
                commit.token = Some(self.token_headers(None, true));
            }
            return commit;
        }
        let id = state.working.as_ref().and_then(|w| w.id.as_ref());
        let token = match (state.cookie, id) {
            (CookieAction::Set, Some(id)) => {
                let value = crate::protect::cookie_value(manager.options(), id);
                // A refresh of a persistent cookie re-sends it; the client already holds
                // this token, so it is not returned again.
                (self.shared.token.get().map(|t| &**t) != Some(value.as_bytes())).then_some(value)
            }
            (CookieAction::Remove, _) => Some(String::new()),
            _ => None,
        };
        state.cookie = CookieAction::Keep;
        Commit {
            set_cookie: None,
            token: used.then(|| self.token_headers(token, state.transport == Transport::Both)),
        }
    }

    fn token_headers(&self, token: Option<String>, vary_cookie: bool) -> TokenHeaders {
        let names = &self.manager().inner.token_names;
        TokenHeaders {
            token,
            response_header: names.response.clone(),
            request_header: names.request.clone(),
            vary_cookie,
        }
    }

    async fn ensure_loaded<'s>(&self, state: &'s mut State) -> Result<&'s mut WorkingCopy> {
        self.load_once(state).await?;
        Ok(parts(state)?.0)
    }

    /// The working copy for `operation`, a write: refused with [`Error::Degraded`] when the
    /// session is an empty stand-in for one the store could not read.
    async fn writable<'s>(
        &self,
        state: &'s mut State,
        operation: &'static str,
    ) -> Result<&'s mut WorkingCopy> {
        self.load_once(state).await?;
        // `load_once` sets `degraded` when it falls back; checked after it, so the first use
        // of the session can be a write.
        if state.degraded {
            return Err(Error::Degraded { operation });
        }
        Ok(parts(state)?.0)
    }

    fn is_anonymous(&self) -> bool {
        self.outage_policy() == OutagePolicy::Anonymous
    }

    /// The working copy, loaded on first use, and the cookie decision, borrowed apart. A
    /// failed load leaves nothing loaded: the raw cookie values stay, so a later call after
    /// an outage tries them again.
    async fn loaded<'s>(
        &self,
        state: &'s mut State,
    ) -> Result<(&'s mut WorkingCopy, &'s mut CookieAction)> {
        self.load_once(state).await?;
        parts(state)
    }

    /// Loads the working copy on the session's first use; a failed load leaves nothing
    /// loaded (see [`Session::loaded`]).
    async fn load_once(&self, state: &mut State) -> Result<()> {
        if state.working.is_none() {
            let manager = self.manager();
            choose_transport(
                state,
                self.transport(),
                self.shared.token.get().map(|t| &**t),
            );
            let mut presented = false;
            let adopted = match load::adopt_now(manager, &state.cookie_values, 0, &mut presented) {
                Ok(Adopt::Done(adopted)) => Ok(adopted),
                // Boxed: the futures of `get`, `set` and the rest then stay small for stores
                // that answer in memory (moving a future copies all of it), and a store that
                // needs I/O pays one small allocation (see `load::adopt_read`) next to a
                // network round trip.
                Ok(Adopt::NeedsIo { id, next }) => {
                    Box::pin(load::adopt_read(
                        manager,
                        &state.cookie_values,
                        id,
                        next,
                        &mut presented,
                    ))
                    .await
                }
                Err(e) => Err(e),
            };
            state.presented = presented;
            // Matched in place rather than passed through `note_failure`: the working copy is
            // large, and every move copies it.
            let adopted = match adopted {
                Ok(adopted) => adopted,
                Err(e) if e.is_backend() && self.is_anonymous() => {
                    // Served as a visitor for the rest of the request, even if the store
                    // comes back meanwhile: see `crate::outage`.
                    tracing::warn!(error = %e, "session store unavailable; serving the request anonymously");
                    state.degraded = true;
                    None
                }
                Err(e) => return note_failure(state, Err(e)),
            };
            state.working = Some(match adopted {
                Some(working) => {
                    if working.followed {
                        // Found through a rotation's forward record: hand out the new ID.
                        state.cookie = CookieAction::Set;
                    }
                    working
                }
                None => WorkingCopy::empty(manager.clock().now()),
            });
        }
        Ok(())
    }

    /// Keeps what the adapter said about the client ([`Session::present_client`]).
    pub(crate) fn set_client(&self, client: crate::devices::ClientInfo) {
        let _ = self.shared.client.set(Box::new(client));
    }

    /// `result`, with a backend failure remembered for the commit to report.
    pub(crate) async fn note<T>(&self, result: Result<T>) -> Result<T> {
        note_failure(&mut *self.shared.state.lock().await, result)
    }
}

/// The loaded working copy and the cookie decision, borrowed apart.
fn parts(state: &mut State) -> Result<(&mut WorkingCopy, &mut CookieAction)> {
    match &mut state.working {
        Some(working) => Ok((working, &mut state.cookie)),
        None => Err(Error::Corrupt("session state missing".into())),
    }
}

/// Fixes the request's transport at its first use of the session: under the header, the
/// token becomes the only candidate ID, so a cookie is never consulted.
fn choose_transport(state: &mut State, transport: Transport, token: Option<&[u8]>) {
    let via_header = match transport {
        Transport::Cookie => false,
        Transport::Header => true,
        Transport::Both => token.is_some(),
    };
    if via_header {
        let mut values = CookieValues::new();
        if let Some(token) = token.filter(|t| !t.is_empty()) {
            values.extend_from_slice(token);
            values.push(b';');
        }
        state.cookie_values = values;
    }
    state.transport = transport;
    state.via_header = via_header;
}

/// `result`, with a backend failure remembered in `state`: the commit reports it again, so
/// the adapter answers 503 even if the handler swallowed the error.
fn note_failure<T>(state: &mut State, result: Result<T>) -> Result<T> {
    if let Err(e) = &result
        && e.is_backend()
    {
        state.failed = Some(e.to_string());
    }
    result
}
