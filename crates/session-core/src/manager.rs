//! The [`Manager`]: one provider store plus the options and the clock, shared by every
//! request; the admin calls (destroy by ID, count, owner index) and GC.
//!
//! This is the bottom of core's request path: the modules above it add to `Manager` what
//! needs them, so imports run one way. [`Manager::load`], which starts a request, lives with
//! the [`crate::Session`] it builds (`session`); [`Manager::read`] with the checks of a read
//! (`load`).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::Instrument as _;

use crate::backend::Backend;
use crate::clock::{Clock, Millis, SystemClock, duration_millis};
use crate::error::{Error, Result};
use crate::events::{Event, EventHook};
use crate::id::SessionId;
use crate::metrics::{self, Lifecycle};
use crate::options::Options;
use crate::protect;
use crate::registry::Registry;
use crate::store::{ProviderContext, RawStore, Write};
use crate::transport::TokenNames;

/// Owns the provider store and the options; cheap to clone (an `Arc`).
///
/// Per request, an adapter calls [`Manager::load`] with the request's `Cookie` headers, hands
/// the [`crate::Session`] to the handler, and afterwards calls [`crate::Session::commit`] to persist changes
/// and learn which `Set-Cookie` to send.
#[derive(Clone)]
pub struct Manager {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) options: Options,
    pub(crate) store: Backend,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) idle_ms: Millis,
    pub(crate) absolute_ms: Option<Millis>,
    pub(crate) touch_ms: Millis,
    pub(crate) hook: OnceLock<EventHook>,
    pub(crate) metrics: Lifecycle,
    pub(crate) token_names: TokenNames,
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
            // An encrypted record is longer than the limit core enforces on the plaintext.
            max_record_size: crate::encryption::stored_limit(&options),
            max_lifetime_ms: duration_millis(options.idle_lifetime()),
        };
        let store = registry
            .open(&options.provider, &options.provider_config, &ctx)
            .await?;
        Self::with_store(options, store, clock)
    }

    /// Builds a manager around an already opened store (`options.provider` is not consulted),
    /// wrapped in [`crate::encryption::Encrypted`] when `options.encryption_keys` is set.
    ///
    /// The manager's metrics ([`crate::metrics`], feature `metrics`) are registered here, with
    /// the recorder installed now; its store calls are measured through [`Backend`].
    pub fn with_store(
        options: Options,
        store: Arc<dyn RawStore>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        options.validate()?;
        if options.max_sessions_per_owner.is_some() && !store.capabilities().owner_index {
            return Err(Error::config(
                "max_sessions_per_owner",
                format!(
                    "the `{}` session provider keeps no owner index, which a per-owner cap needs",
                    store.provider()
                ),
            ));
        }
        // Measured outside every wrapper the store is given, so latency covers encryption too.
        let store = Backend::new(crate::encryption::wrap(&options, store)?);
        Ok(Manager {
            inner: Arc::new(Inner {
                idle_ms: duration_millis(options.idle_lifetime()),
                absolute_ms: options.absolute_lifetime.map(duration_millis),
                touch_ms: duration_millis(options.effective_touch_interval()),
                hook: OnceLock::new(),
                metrics: Lifecycle::new(store.provider()),
                token_names: TokenNames::new(&options),
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
        self.inner.metrics.event(&event);
        if let Some(hook) = self.inner.hook.get() {
            hook(&event);
        }
    }

    /// The backend key for a session ID (its hash when `hash_ids` is on).
    pub(crate) fn key<'a>(&self, id: &'a SessionId) -> Result<std::borrow::Cow<'a, SessionId>> {
        protect::storage_key(&self.inner.options, id)
    }

    /// A fresh session ID of the configured length.
    pub(crate) fn new_id(&self) -> Result<SessionId> {
        SessionId::generate(self.inner.options.id_length)
    }

    /// What to ask the store to write now: `body` expiring at `expires_at`, bound to `owner`.
    pub(crate) fn write<'a>(
        &self,
        body: &'a [u8],
        expires_at: Millis,
        owner: Option<&'a str>,
    ) -> Write<'a> {
        Write::new(body, expires_at, self.inner.clock.now(), owner)
    }

    /// The request header that carries the session token under `header` or `both`
    /// transport ([`Options::token_header`]): adapters hand its lines to
    /// [`Manager::load_with_token`].
    pub fn token_header(&self) -> &str {
        &self.inner.token_names.request
    }

    /// The options in effect.
    pub fn options(&self) -> &Options {
        &self.inner.options
    }

    /// The provider store (for admin tools and tests), measured like the manager's own calls;
    /// [`Backend::raw`] is the store itself.
    pub fn store(&self) -> &Backend {
        &self.inner.store
    }

    /// The manager's clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The least an expiry refresh must move the expiry by to be written (`touch_interval`).
    pub(crate) fn touch_interval_ms(&self) -> Millis {
        self.inner.touch_ms
    }

    /// Deletes session `id` (the ID a cookie carries; admin use); returns whether it existed.
    pub async fn destroy_id(&self, id: &SessionId) -> Result<bool> {
        let mut destroyed = self.inner.store.destroy(&*self.key(id)?).await?;
        if self.inner.options.hash_ids_migrate {
            // Not used since `hash_ids` was turned on: still under its raw ID.
            destroyed |= self.inner.store.destroy(id).await?;
        }
        if destroyed {
            self.emit(Event::Destroyed {
                session: id.fingerprint(),
            });
        }
        Ok(destroyed)
    }

    /// Counts live sessions, or [`Error::Unsupported`] when the provider cannot. The count
    /// also sets the `session_live` gauge ([`crate::metrics`]).
    pub async fn count(&self) -> Result<u64> {
        let live = self.inner.store.count(self.inner.clock.now()).await?;
        self.inner.metrics.live(live);
        Ok(live)
    }

    /// Runs one GC pass now; returns how many expired sessions were removed.
    pub async fn gc(&self) -> Result<u64> {
        let now = self.inner.clock.now();
        let removed = self
            .inner
            .store
            .gc(now)
            .instrument(crate::events::debug_span(|| {
                tracing::debug_span!("session.gc")
            }))
            .await?;
        self.inner.metrics.gc_removed(removed);
        Ok(removed)
    }

    /// A request found its live session (for the metrics: loads have no [`Event`]).
    pub(crate) fn loaded(&self) {
        self.inner.metrics.loaded();
    }

    /// A changed session was written back (for the metrics: saves have no [`Event`]).
    pub(crate) fn saved(&self) {
        self.inner.metrics.saved();
    }

    /// Refreshes the `session_live` gauge after a GC pass, when metrics are recorded and the
    /// provider can count (the cost of a count is in [`crate::metrics`]'s docs).
    async fn refresh_live(&self) {
        if !metrics::RECORDS || !self.inner.store.capabilities().count {
            return;
        }
        if let Err(e) = self.count().await {
            tracing::warn!(error = %e, "counting live sessions failed; will retry");
        }
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
                manager.refresh_live().await;
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
