//! [`Wrapper`]: the base for a store around a store ([`crate::Encrypted`], test
//! instrumentation). Every [`RawStore`] method has a default here that forwards to the
//! wrapped store, and every `Wrapper` is a `RawStore`, so a wrapper writes only what it
//! changes and cannot forget to forward an operation: a store method added later, or one as
//! easy to miss as [`RawStore::read_in_memory`] (without which core's synchronous read path
//! would silently fall back to `read`), reaches the inner store without the wrapper's author
//! doing anything.
//!
//! What it costs: the async methods of `Wrapper` return `impl Future + Send` (they are not
//! `async_trait` methods), so a wrapper's future lives inline in the one box the blanket
//! `RawStore` impl makes per call, as a hand-written `RawStore` impl would; the defaults are
//! statically dispatched, and [`Wrapper::on_call`]'s default does nothing.
//!
//! [`crate::Migrating`] is not a `Wrapper`: it has two stores, and no operation simply
//! forwards to one of them.

use std::future::Future;

use async_trait::async_trait;

use crate::backend::Operation;
use crate::clock::Millis;
use crate::error::Result;
use crate::id::SessionId;
use crate::store::{Capabilities, Inserted, Moved, RawStore, Saved, Stored, Version, Write};

/// One operation a [`Wrapper`] forwards, as [`Wrapper::on_call`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    /// Any operation but an in-memory read ([`Operation::Read`] is [`RawStore::read`]).
    Op(Operation),
    /// [`RawStore::read_in_memory`], when the inner store answered it: apart from
    /// [`Operation::Read`] so that a wrapper can fail one read path and not the other.
    ReadInMemory,
}

impl Call {
    /// The operation as the metrics name it: an in-memory read is a [`Operation::Read`].
    pub fn operation(self) -> Operation {
        match self {
            Call::Op(op) => op,
            Call::ReadInMemory => Operation::Read,
        }
    }
}

/// The base for a store that wraps another: see the [module docs](self).
///
/// A wrapper implements [`Wrapper::inner`] and overrides only what it changes, with plain
/// `async fn`s (no `#[async_trait]` on the impl).
///
/// [`Wrapper::on_call`] runs before each forwarded operation and can count it or fail it; a
/// method overridden by the wrapper does not run it unless the override calls it.
///
/// A type that implements `Wrapper` has both traits' methods; import `Wrapper` only where the
/// wrapper is implemented, and call the store through `RawStore` elsewhere.
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
    fn read(&self, id: &SessionId) -> impl Future<Output = Result<Option<Stored>>> + Send {
        async move {
            self.on_call(Call::Op(Operation::Read))?;
            self.inner().read(id).await
        }
    }

    /// [`RawStore::read_in_memory`]; forwarded.
    fn read_in_memory(&self, id: &str) -> Option<Result<Option<(SessionId, Stored)>>> {
        let answer = self.inner().read_in_memory(id)?;
        Some(self.on_call(Call::ReadInMemory).and(answer))
    }

    /// [`RawStore::exist`]; forwarded.
    fn exist(&self, id: &SessionId) -> impl Future<Output = Result<bool>> + Send {
        async move {
            self.on_call(Call::Op(Operation::Exist))?;
            self.inner().exist(id).await
        }
    }

    /// [`RawStore::insert`]; forwarded.
    fn insert(
        &self,
        id: &SessionId,
        record: Write<'_>,
    ) -> impl Future<Output = Result<Inserted>> + Send {
        async move {
            self.on_call(Call::Op(Operation::Insert))?;
            self.inner().insert(id, record).await
        }
    }

    /// [`RawStore::save`]; forwarded.
    fn save(
        &self,
        id: &SessionId,
        expected: Version,
        record: Write<'_>,
    ) -> impl Future<Output = Result<Saved>> + Send {
        async move {
            self.on_call(Call::Op(Operation::Save))?;
            self.inner().save(id, expected, record).await
        }
    }

    /// [`RawStore::touch`]; forwarded.
    fn touch(
        &self,
        id: &SessionId,
        expires_at: Millis,
        ttl_ms: Millis,
    ) -> impl Future<Output = Result<bool>> + Send {
        async move {
            self.on_call(Call::Op(Operation::Touch))?;
            self.inner().touch(id, expires_at, ttl_ms).await
        }
    }

    /// [`RawStore::destroy`]; forwarded.
    fn destroy(&self, id: &SessionId) -> impl Future<Output = Result<bool>> + Send {
        async move {
            self.on_call(Call::Op(Operation::Destroy))?;
            self.inner().destroy(id).await
        }
    }

    /// [`RawStore::regenerate`]; forwarded to the inner store's own move, so a store that
    /// overrides the default move is used (and tested) with its override.
    fn regenerate(
        &self,
        old: &SessionId,
        expected: Version,
        new: &SessionId,
        record: Write<'_>,
    ) -> impl Future<Output = Result<Moved>> + Send {
        async move {
            self.on_call(Call::Op(Operation::Regenerate))?;
            self.inner().regenerate(old, expected, new, record).await
        }
    }

    /// [`RawStore::count`]; forwarded.
    fn count(&self, now: Millis) -> impl Future<Output = Result<u64>> + Send {
        async move {
            self.on_call(Call::Op(Operation::Count))?;
            self.inner().count(now).await
        }
    }

    /// [`RawStore::gc`]; forwarded.
    fn gc(&self, now: Millis) -> impl Future<Output = Result<u64>> + Send {
        async move {
            self.on_call(Call::Op(Operation::Gc))?;
            self.inner().gc(now).await
        }
    }

    /// [`RawStore::owner_sessions`]; forwarded.
    fn owner_sessions(
        &self,
        owner: &str,
        now: Millis,
    ) -> impl Future<Output = Result<Vec<SessionId>>> + Send {
        async move {
            self.on_call(Call::Op(Operation::OwnerSessions))?;
            self.inner().owner_sessions(owner, now).await
        }
    }
}

// The one box per call: `async_trait` boxes each of these futures, and the `Wrapper` future
// it awaits is stored inside that box, not boxed again.
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
