//! A store around a store: [`Wrapper`] forwards every operation, so a test wrapper writes only
//! what it changes.

use std::sync::Arc;

use async_trait::async_trait;

use crate::clock::Millis;
use crate::error::Result;
use crate::id::SessionId;
use crate::store::{Capabilities, Inserted, Moved, RawStore, Saved, Stored, Version, Write};

/// One operation a [`Wrapper`] forwards, as [`Wrapper::on_call`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    /// [`RawStore::read`].
    Read,
    /// [`RawStore::read_in_memory`], when the inner store answered it.
    ReadInMemory,
    /// [`RawStore::exist`].
    Exist,
    /// [`RawStore::insert`].
    Insert,
    /// [`RawStore::save`].
    Save,
    /// [`RawStore::touch`].
    Touch,
    /// [`RawStore::destroy`].
    Destroy,
    /// [`RawStore::regenerate`].
    Regenerate,
    /// [`RawStore::count`].
    Count,
    /// [`RawStore::gc`].
    Gc,
    /// [`RawStore::owner_sessions`].
    OwnerSessions,
}

/// The base for a store that wraps another (test instrumentation, a store that keeps its test
/// server alive): every [`RawStore`] method has a default here that forwards to
/// [`Wrapper::inner`], and every `Wrapper` is a `RawStore`. A wrapper implements `inner` and
/// overrides only what it changes, so it cannot forget to forward an operation (such as
/// [`RawStore::read_in_memory`], without which core's synchronous read path would go untested).
///
/// [`Wrapper::on_call`] runs before each forwarded operation and can count it or fail it; a
/// method overridden by the wrapper does not run it unless the override calls it.
///
/// A type that implements `Wrapper` has both traits' methods; import `Wrapper` only where the
/// wrapper is implemented, and call the store through `RawStore` elsewhere.
#[async_trait]
pub trait Wrapper: Send + Sync + 'static {
    /// The wrapped store.
    fn inner(&self) -> &dyn RawStore;

    /// Runs before every forwarded operation that reaches the backend; an error is returned in
    /// place of the operation's answer. For [`Call::ReadInMemory`] it runs once the inner store
    /// has answered synchronously (when it does not, core falls back to `read`, which runs it).
    fn on_call(&self, call: Call) -> Result<()> {
        let _ = call;
        Ok(())
    }

    /// [`RawStore::provider`]; forwarded.
    fn provider(&self) -> &'static str {
        self.inner().provider()
    }

    /// [`RawStore::capabilities`]; forwarded.
    fn capabilities(&self) -> Capabilities {
        self.inner().capabilities()
    }

    /// [`RawStore::read`]; forwarded.
    async fn read(&self, id: &SessionId) -> Result<Option<Stored>> {
        self.on_call(Call::Read)?;
        self.inner().read(id).await
    }

    /// [`RawStore::read_in_memory`]; forwarded.
    fn read_in_memory(&self, id: &str) -> Option<Result<Option<(SessionId, Stored)>>> {
        let answer = self.inner().read_in_memory(id)?;
        Some(self.on_call(Call::ReadInMemory).and(answer))
    }

    /// [`RawStore::exist`]; forwarded.
    async fn exist(&self, id: &SessionId) -> Result<bool> {
        self.on_call(Call::Exist)?;
        self.inner().exist(id).await
    }

    /// [`RawStore::insert`]; forwarded.
    async fn insert(&self, id: &SessionId, record: Write<'_>) -> Result<Inserted> {
        self.on_call(Call::Insert)?;
        self.inner().insert(id, record).await
    }

    /// [`RawStore::save`]; forwarded.
    async fn save(&self, id: &SessionId, expected: Version, record: Write<'_>) -> Result<Saved> {
        self.on_call(Call::Save)?;
        self.inner().save(id, expected, record).await
    }

    /// [`RawStore::touch`]; forwarded.
    async fn touch(&self, id: &SessionId, expires_at: Millis, ttl_ms: Millis) -> Result<bool> {
        self.on_call(Call::Touch)?;
        self.inner().touch(id, expires_at, ttl_ms).await
    }

    /// [`RawStore::destroy`]; forwarded.
    async fn destroy(&self, id: &SessionId) -> Result<bool> {
        self.on_call(Call::Destroy)?;
        self.inner().destroy(id).await
    }

    /// [`RawStore::regenerate`]; forwarded to the inner store's own move, so a store that
    /// overrides the default move is tested with its override.
    async fn regenerate(
        &self,
        old: &SessionId,
        expected: Version,
        new: &SessionId,
        record: Write<'_>,
    ) -> Result<Moved> {
        self.on_call(Call::Regenerate)?;
        self.inner().regenerate(old, expected, new, record).await
    }

    /// [`RawStore::count`]; forwarded.
    async fn count(&self, now: Millis) -> Result<u64> {
        self.on_call(Call::Count)?;
        self.inner().count(now).await
    }

    /// [`RawStore::gc`]; forwarded.
    async fn gc(&self, now: Millis) -> Result<u64> {
        self.on_call(Call::Gc)?;
        self.inner().gc(now).await
    }

    /// [`RawStore::owner_sessions`]; forwarded.
    async fn owner_sessions(&self, owner: &str, now: Millis) -> Result<Vec<SessionId>> {
        self.on_call(Call::OwnerSessions)?;
        self.inner().owner_sessions(owner, now).await
    }
}

#[async_trait]
impl<W: Wrapper> RawStore for W {
    fn provider(&self) -> &'static str {
        Wrapper::provider(self)
    }

    async fn read(&self, id: &SessionId) -> Result<Option<Stored>> {
        Wrapper::read(self, id).await
    }

    fn read_in_memory(&self, id: &str) -> Option<Result<Option<(SessionId, Stored)>>> {
        Wrapper::read_in_memory(self, id)
    }

    async fn exist(&self, id: &SessionId) -> Result<bool> {
        Wrapper::exist(self, id).await
    }

    async fn insert(&self, id: &SessionId, record: Write<'_>) -> Result<Inserted> {
        Wrapper::insert(self, id, record).await
    }

    async fn save(&self, id: &SessionId, expected: Version, record: Write<'_>) -> Result<Saved> {
        Wrapper::save(self, id, expected, record).await
    }

    async fn touch(&self, id: &SessionId, expires_at: Millis, ttl_ms: Millis) -> Result<bool> {
        Wrapper::touch(self, id, expires_at, ttl_ms).await
    }

    async fn destroy(&self, id: &SessionId) -> Result<bool> {
        Wrapper::destroy(self, id).await
    }

    async fn regenerate(
        &self,
        old: &SessionId,
        expected: Version,
        new: &SessionId,
        record: Write<'_>,
    ) -> Result<Moved> {
        Wrapper::regenerate(self, old, expected, new, record).await
    }

    fn capabilities(&self) -> Capabilities {
        Wrapper::capabilities(self)
    }

    async fn count(&self, now: Millis) -> Result<u64> {
        Wrapper::count(self, now).await
    }

    async fn gc(&self, now: Millis) -> Result<u64> {
        Wrapper::gc(self, now).await
    }

    async fn owner_sessions(&self, owner: &str, now: Millis) -> Result<Vec<SessionId>> {
        Wrapper::owner_sessions(self, owner, now).await
    }
}

/// A store that forwards everything to another and keeps `guard` alive as long as it lives:
/// the test server or temporary directory the inner store uses.
pub struct Forward<G = ()> {
    inner: Arc<dyn RawStore>,
    guard: G,
}

impl<G: Send + Sync + 'static> Forward<G> {
    /// Wraps `inner`, keeping `guard` until the store is dropped.
    pub fn new(inner: Arc<dyn RawStore>, guard: G) -> Self {
        Forward { inner, guard }
    }

    /// What the store keeps alive.
    pub fn guard(&self) -> &G {
        &self.guard
    }
}

impl<G: Send + Sync + 'static> Wrapper for Forward<G> {
    fn inner(&self) -> &dyn RawStore {
        &*self.inner
    }
}
