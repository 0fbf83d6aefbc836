//! The provider contract: [`RawStore`] is the I/O for one backend, [`Provider`] builds one from
//! a config string.
//!
//! A raw store keeps opaque records: the encoded body core hands it, an expiry time, an
//! optional owner, and a version it bumps on every write. All session logic (expiry checks,
//! strict mode, merging concurrent changes, cookies) lives in core, so a provider is the I/O
//! for its backend and little else. `session-memory` is the worked example.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::clock::{Clock, Millis};
use crate::error::{Error, Result};
use crate::id::SessionId;

/// An opaque record version. Providers choose the representation (a counter, a CAS value);
/// core only compares it for equality through [`RawStore::save`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Version(pub u64);

impl Version {
    /// A random first version for a new record, in `1..=2^62` (so it fits a signed 64-bit
    /// column and can be incremented). Random rather than 1 so that a stale writer holding the
    /// version of a destroyed record can never match a new record reusing its ID (ABA).
    pub fn random(provider: &'static str) -> Result<Version> {
        let random = getrandom::u64().map_err(|e| {
            Error::backend(
                provider,
                format!("the OS random number generator failed: {e}"),
            )
        })?;
        Ok(Version((random >> 2) + 1))
    }
}

/// A record as the backend holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The encoded record body (see [`crate::record`]); providers never look inside.
    ///
    /// `Bytes` rather than `Vec<u8>` so an in-process store can hand out a record with a
    /// reference-count bump instead of a copy on every read; a provider that reads into a
    /// `Vec<u8>` converts it without copying (`Bytes::from(vec)`).
    pub body: Bytes,
    /// Version to pass to [`RawStore::save`] for a conditional write.
    pub version: Version,
    /// When the record expires, in ms since the epoch. Core checks it on every load and never
    /// trusts a backend TTL or GC to have done so.
    pub expires_at: Millis,
}

/// What core asks a provider to write.
#[derive(Debug, Clone, Copy)]
pub struct Write<'a> {
    /// Encoded record body.
    pub body: &'a [u8],
    /// Expiry in ms since the epoch.
    pub expires_at: Millis,
    /// Time to live from now in ms (at least 1), for backends with native TTLs. Computed by
    /// core from its own clock, so backend clock skew cannot shorten a session.
    pub ttl_ms: Millis,
    /// The owner the session is bound to, for providers that keep an owner index.
    pub owner: Option<&'a str>,
}

impl<'a> Write<'a> {
    /// `body` bound to `owner`, expiring at `expires_at`, written at `now`: its TTL is the
    /// time left, at least 1 ms (a backend reads a TTL of 0 as "no expiry" or as "already
    /// gone", and a record about to expire must be neither).
    pub fn new(body: &'a [u8], expires_at: Millis, now: Millis, owner: Option<&'a str>) -> Self {
        Write {
            body,
            expires_at,
            ttl_ms: ttl_ms(expires_at, now),
            owner,
        }
    }
}

/// The TTL of a record expiring at `expires_at`, seen at `now`: the time left, at least 1 ms
/// (see [`Write::new`]).
pub fn ttl_ms(expires_at: Millis, now: Millis) -> Millis {
    expires_at.saturating_sub(now).max(1)
}

/// Result of [`RawStore::insert`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// The record was created with this version.
    Created(Version),
    /// A record with this ID already exists; nothing was written.
    Exists,
}

/// Result of [`RawStore::regenerate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moved {
    /// The record now lives under the new ID with this version; the old ID is gone.
    Moved(Version),
    /// A record already exists under the new ID; nothing was written.
    Exists,
    /// The old record's version differs from the expected one; nothing was moved.
    Conflict,
    /// There is no record under the old ID (destroyed, expired or moved meanwhile).
    Missing,
}

/// What a [`RawStore`] can do beyond the operations every store has, declared once by the
/// store (as OpenDAL's services declare theirs). The conformance suite, the demos and admin
/// tools read it before calling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// [`RawStore::count`] answers with the number of live sessions.
    pub count: bool,
    /// [`RawStore::owner_sessions`] lists an owner's sessions ("log out everywhere").
    pub owner_index: bool,
    /// [`RawStore::gc`] removes expired records. False when the backend expires records
    /// itself and cannot enumerate them (memcached, Couchbase).
    pub gc: bool,
}

impl Capabilities {
    /// Every capability: count, owner index and GC.
    pub const ALL: Capabilities = Capabilities {
        count: true,
        owner_index: true,
        gc: true,
    };
    /// None of them: a store that only reads and writes records.
    pub const NONE: Capabilities = Capabilities {
        count: false,
        owner_index: false,
        gc: false,
    };
}

/// Result of [`RawStore::save`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    /// The record was replaced; this is its new version.
    Saved(Version),
    /// The record's version differs from the expected one; nothing was written.
    Conflict,
    /// There is no record under this ID (destroyed or expired meanwhile); nothing was written.
    Missing,
}

/// The I/O for one session backend.
///
/// Every method is async and object-safe, and the store is shared between requests
/// (`Send + Sync`). IDs arrive already validated. Rules every implementation follows (the
/// conformance suite checks them):
///
/// - `insert` never overwrites; `save` writes only when the stored version equals `expected`
///   and never creates a record; `touch` changes only the expiry and never creates a record.
/// - Every successful write yields a version different from the previous one.
/// - `gc` removes records whose `expires_at <= now` and never one refreshed meanwhile.
/// - A backend failure is [`Error::Backend`], never "not found". A record the provider cannot
///   parse may be reported as [`Error::Corrupt`] from `read`: core then treats it as absent
///   and deletes it.
#[async_trait]
pub trait RawStore: Send + Sync + 'static {
    /// The provider's registry name, used in errors and logs.
    fn provider(&self) -> &'static str;

    /// Reads a record, expired or not (core decides), or `None` when there is none.
    async fn read(&self, id: &SessionId) -> Result<Option<Stored>>;

    /// For stores that hold records in this process: [`RawStore::read`] without an
    /// `.await`, or `None` (the default) to have core call `read`. A record comes with the
    /// store's own `SessionId` for the key (a clone of the one it was inserted under).
    ///
    /// It exists for speed alone: an async trait method returns a boxed future, and for a
    /// store that answers from memory that allocation is a good part of a session read.
    /// For the same reason `id` is a `&str`: core has checked it is a well-formed ID (as
    /// [`SessionId::parse`] does) but has not copied it, and adopts the returned `SessionId`
    /// instead of allocating its own.
    fn read_in_memory(&self, id: &str) -> Option<Result<Option<(SessionId, Stored)>>> {
        let _ = id;
        None
    }

    /// Whether a record exists under `id` (expired or not).
    async fn exist(&self, id: &SessionId) -> Result<bool> {
        Ok(self.read(id).await?.is_some())
    }

    /// Creates a record if none exists under `id` (insert-if-absent).
    async fn insert(&self, id: &SessionId, record: Write<'_>) -> Result<Inserted>;

    /// Replaces the record if its version is still `expected` (compare-and-swap).
    async fn save(&self, id: &SessionId, expected: Version, record: Write<'_>) -> Result<Saved>;

    /// Refreshes the expiry of an existing record without rewriting its data. Returns false
    /// when there is no record (it is not created).
    async fn touch(&self, id: &SessionId, expires_at: Millis, ttl_ms: Millis) -> Result<bool>;

    /// Deletes the record; returns whether there was one.
    async fn destroy(&self, id: &SessionId) -> Result<bool>;

    /// Moves a session to a new ID if `old` still holds version `expected`: creates `new`
    /// with `record` and retires `old`, so that of two concurrent moves of one record exactly
    /// one carries the data over ([`Moved::Conflict`] or [`Moved::Missing`] for the other).
    ///
    /// The default writes `new` first (insert-if-absent), then replaces `old` with a
    /// [`crate::record::TOMBSTONE`] by a conditional [`RawStore::save`] (the step that decides
    /// which of two movers wins), then deletes `old`. A loser deletes the `new` record it wrote.
    /// Writing `new` first means a failure in between leaves the session where it was, never
    /// nowhere. Stores with transactions may override it to do the same in one.
    async fn regenerate(
        &self,
        old: &SessionId,
        expected: Version,
        new: &SessionId,
        record: Write<'_>,
    ) -> Result<Moved> {
        let tombstone = Write {
            body: crate::record::TOMBSTONE,
            owner: None,
            ..record
        };
        match relocate(self, old, expected, self, new, record, tombstone).await? {
            Relocated::Moved(version) => Ok(Moved::Moved(version)),
            Relocated::Exists => Ok(Moved::Exists),
            // Nobody else knows `new` yet, so what was written there is this mover's alone.
            Relocated::Lost { lost, .. } => {
                self.destroy(new).await?;
                Ok(lost)
            }
            Relocated::Undecided { error, .. } => {
                self.destroy(new).await?;
                Err(error)
            }
        }
    }

    /// What this store can do beyond the operations every store has. Callers ask it instead
    /// of discovering [`Error::Unsupported`] at run time; an unsupported call still returns
    /// that error.
    fn capabilities(&self) -> Capabilities;

    /// Counts live sessions (`expires_at > now`), or [`Error::Unsupported`].
    async fn count(&self, now: Millis) -> Result<u64> {
        let _ = now;
        Err(Error::unsupported(self.provider(), "count"))
    }

    /// Removes expired records (`expires_at <= now`); returns how many were removed.
    async fn gc(&self, now: Millis) -> Result<u64>;

    /// The live sessions bound to `owner`, or [`Error::Unsupported`] when the backend keeps no
    /// owner index.
    async fn owner_sessions(&self, owner: &str, now: Millis) -> Result<Vec<SessionId>> {
        let _ = (owner, now);
        Err(Error::unsupported(self.provider(), "owner index"))
    }
}

/// How far [`relocate`] got.
#[derive(Debug)]
pub(crate) enum Relocated {
    /// The record lives in the destination with this version; the source is retired.
    Moved(Version),
    /// A record already exists under the destination ID; nothing was written.
    Exists,
    /// The destination was written (with version `written`), but the source no longer held
    /// the expected version: `lost` is [`Moved::Conflict`] or [`Moved::Missing`]. The caller
    /// takes the destination record back.
    Lost {
        /// Why the move lost.
        lost: Moved,
        /// The version the destination record was created with.
        written: Version,
    },
    /// The destination was written, but retiring the source failed, so whether it was retired
    /// is unknown. The caller decides what to do with the destination record.
    Undecided {
        /// The failure of the retiring save.
        error: Error,
        /// The version the destination record was created with.
        written: Version,
    },
}

/// The move behind [`RawStore::regenerate`]'s default and [`crate::Migrating`]: creates
/// `new` in `dst` (insert-if-absent), then retires `old` in `src` by replacing it with
/// `tombstone` if it still holds `expected` (the step that decides between two movers, or a
/// mover and a destroy), then deletes `old`. Writing the destination first means a failure in
/// between leaves the session where it was, never nowhere; what a loser does with what it
/// wrote depends on who else can see it, so that is the caller's.
pub(crate) async fn relocate<S, D>(
    src: &S,
    old: &SessionId,
    expected: Version,
    dst: &D,
    new: &SessionId,
    record: Write<'_>,
    tombstone: Write<'_>,
) -> Result<Relocated>
where
    S: RawStore + ?Sized,
    D: RawStore + ?Sized,
{
    let written = match dst.insert(new, record).await? {
        Inserted::Created(version) => version,
        Inserted::Exists => return Ok(Relocated::Exists),
    };
    let lost = match src.save(old, expected, tombstone).await {
        Ok(Saved::Saved(_)) => {
            src.destroy(old).await?;
            return Ok(Relocated::Moved(written));
        }
        Ok(Saved::Conflict) => Moved::Conflict,
        Ok(Saved::Missing) => Moved::Missing,
        Err(error) => return Ok(Relocated::Undecided { error, written }),
    };
    Ok(Relocated::Lost { lost, written })
}

/// The largest [`index_slack`] (ms): how far behind a record's expiry a provider's expiry
/// index may lag. A provider that checks records in a window below `now` makes the window
/// this wide, so it covers every store sharing the index, whatever their idle lifetimes.
pub const MAX_INDEX_SLACK_MS: Millis = 60_000;

/// The expiry-index slack for an idle lifetime: a tenth of it, at most
/// [`MAX_INDEX_SLACK_MS`]. A provider rewrites an index entry only when the expiry moves by
/// more than this, so most saves leave the index alone. A tenth is the most core's own touch
/// interval can be (60 s by default), so the index is at most as stale as core already lets
/// a stored expiry be.
pub fn index_slack(idle_lifetime_ms: Millis) -> Millis {
    (idle_lifetime_ms / 10).clamp(0, MAX_INDEX_SLACK_MS)
}

/// What a [`Provider`] gets besides its config string.
#[derive(Debug, Clone)]
pub struct ProviderContext {
    /// The manager's clock (providers with their own expiry bookkeeping use it).
    pub clock: Arc<dyn Clock>,
    /// The record size limit; providers with a smaller hard limit report a config error.
    pub max_record_size: usize,
    /// Idle lifetime in ms (Macaron's `Maxlifetime`).
    pub max_lifetime_ms: Millis,
}

/// A factory that builds a [`RawStore`] from a config string, registered by name.
///
/// Every manager gets its own store instance: a factory is called once per manager.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The registry name (`"memory"`, `"file"`, `"redis"`, ...).
    fn name(&self) -> &'static str;

    /// Builds a store from `config` (the provider's own config string). An unknown config key
    /// is an [`Error::Config`] that names it.
    async fn open(&self, config: &str, ctx: &ProviderContext) -> Result<Arc<dyn RawStore>>;
}
