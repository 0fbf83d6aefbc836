//! Moving sessions between two backends without logging anyone out: [`Migrating`] is a
//! [`RawStore`] over the store sessions live in now (`from`) and the one they are moving to
//! (`to`).
//!
//! # How a session moves
//!
//! Every read asks `to` first and falls back to `from`. New sessions go to `to`. A session
//! still in `from` moves on its first write (the default) or on its first read
//! ([`MoveOn::Read`]). A move is the same three steps as [`RawStore::regenerate`]'s default,
//! across the two stores:
//!
//! 1. insert the record into `to` (insert-if-absent: of two movers, the second finds it there
//!    and reports a conflict, so core reads the session again, now from `to`, and replays);
//! 2. retire the record in `from` by a conditional save of [`record::TOMBSTONE`] with the
//!    version that was read: this decides between the mover and anything that changed or
//!    deleted the record meanwhile;
//! 3. delete it from `from`.
//!
//! A mover that loses step 2 takes its copy in `to` back with a conditional save of a
//! tombstone and a delete, and reports [`Saved::Conflict`] (the record changed: core reads
//! it again and replays) or [`Saved::Missing`] (it was destroyed: core drops the changes).
//! Two cases need more than that, because the copy in `to` is visible under the session's own
//! ID from step 1 on, and a concurrent request may already have written to it:
//!
//! - the record was destroyed in `from` meanwhile: the copy goes, whatever was written to it
//!   (no resurrection; a destroy deletes in `from` first, then in `to`);
//! - the record only changed its version in `from` (memcached and Couchbase change their CAS
//!   value on an expiry refresh): the copy, which other requests have built on, is the
//!   session now, and `from`'s record is retired with its new version.
//!
//! Readers close the gap between the steps: a read that finds nothing in `to` and nothing
//! (or a tombstone) in `from` asks `to` once more, since the session may have moved between
//! the two reads. A session is therefore never seen in neither store while it exists.
//!
//! # Versions
//!
//! Core hands back, in [`RawStore::save`] and [`RawStore::regenerate`], the version it read,
//! and that is how `Migrating` knows which store a record came from: versions read from
//! `from` carry [`FROM_TAG`] (the top bit of the 64). Every provider in this workspace keeps
//! its versions below it: [`Version::random`] is at most 2^62 and the file, PostgreSQL and
//! MySQL providers add one per save to it (2^62 saves before the bit is reached); memory and
//! ledis (sled's ID generator) count from 0 or 1; memcached's CAS values are a server-wide
//! counter from 1, and Couchbase's are a hybrid logical clock in nanoseconds since 1970
//! (below 2^63 until the year 2262). A store that hands out a version with the bit set is
//! answered with [`Error::Backend`] rather than trusted.
//!
//! # What the rest of the store does
//!
//! `destroy` deletes in both stores and `touch` refreshes whichever holds the record. `count`,
//! `gc` and `owner_sessions` combine both stores and are offered only when both declare them
//! ([`Capabilities`] is the intersection); tombstones are written already expired, so a
//! retired record is not counted. A new session's `insert` first checks that `from` holds no
//! record under its ID. `read_in_memory` answers only for records found in `to` without I/O;
//! anything else goes through `read`.
//!
//! What it costs while a migration runs: a session not yet moved takes two reads, an unknown
//! ID three; a move is one insert, one save and one delete; a new session one extra existence
//! check in `from`. Every instance of the application must run `Migrating` before sessions
//! start moving: an instance that still reads `from` alone would not find moved sessions.
//!
//! Turning on `hash_ids` for existing sessions is the same idea inside one store, with the
//! move made by core: see [`crate::Options::hash_ids_migrate`].
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use session_core::{Manager, Migrating, MoveOn, Options, RawStore, SystemClock};
//! use session_memory::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> session_core::Result<()> {
//! let old: Arc<dyn RawStore> = Arc::new(MemoryStore::default());
//! let new: Arc<dyn RawStore> = Arc::new(MemoryStore::default());
//!
//! // A session written before the migration started.
//! let before = Manager::with_store(Options::default(), old.clone(), Arc::new(SystemClock))?;
//! let session = before.load([]);
//! session.set("user", "gopher").await?;
//! let cookie = session.commit().await?.set_cookie.expect("a new session sets its cookie");
//!
//! // Now every instance runs on `Migrating`: the session is found, and moves on its next
//! // write, under the same cookie.
//! let store = Arc::new(Migrating::new(old.clone(), new.clone()).move_on(MoveOn::Write));
//! let manager = Manager::with_store(Options::default(), store, Arc::new(SystemClock))?;
//! let session = manager.load([cookie.as_str()]);
//! assert_eq!(session.get::<String>("user").await?.as_deref(), Some("gopher"));
//! session.set("seen", &true).await?;
//! assert_eq!(session.commit().await?.set_cookie, None);
//! assert_eq!(new.count(0).await?, 1);
//! assert_eq!(old.count(0).await?, 0);
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;

use async_trait::async_trait;

use crate::clock::{Clock, Millis, SystemClock};
use crate::error::{Error, Result};
use crate::id::SessionId;
use crate::record::{self, Record};
use crate::store::{
    Capabilities, Inserted, Moved, RawStore, Relocated, Saved, Stored, Version, Write, relocate,
};

/// The bit set on versions of records read from `from` (see the module docs for why every
/// provider leaves it free).
pub const FROM_TAG: u64 = 1 << 63;

/// How long a tombstone written by a move stays, in ms: long enough for a racing mover's
/// conditional save to meet it; it is deleted right after in the normal case.
const TOMBSTONE_TTL_MS: Millis = 60_000;

/// Attempts at retiring a record in `from` whose version keeps changing.
const RETIRE_ATTEMPTS: u32 = 8;

/// When a session still in `from` moves to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MoveOn {
    /// On its first write (a save, or a regenerate): a session that is only read stays in
    /// `from` and costs two reads per request until it changes.
    #[default]
    Write,
    /// On its first read: one move per session, so `from` empties as fast as sessions are
    /// used. A record whose body is not in core's format (so its owner cannot be read for
    /// `to`'s owner index) moves on its first write instead.
    Read,
}

/// A [`RawStore`] that moves sessions from one store to another as they are used (see the
/// module docs).
pub struct Migrating {
    from: Arc<dyn RawStore>,
    to: Arc<dyn RawStore>,
    clock: Arc<dyn Clock>,
    move_on: MoveOn,
    capabilities: Capabilities,
}

impl std::fmt::Debug for Migrating {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Migrating")
            .field("from", &self.from.provider())
            .field("to", &self.to.provider())
            .field("move_on", &self.move_on)
            .finish()
    }
}

/// Where a read found a record.
enum Found {
    To(Stored),
    From(Stored),
}

impl Found {
    fn into_stored(self) -> Stored {
        match self {
            Found::To(stored) | Found::From(stored) => stored,
        }
    }
}

/// Which store a version core hands back belongs to.
enum Origin {
    To(Version),
    From(Version),
}

fn origin(version: Version) -> Origin {
    if version.0 & FROM_TAG == 0 {
        Origin::To(version)
    } else {
        Origin::From(Version(version.0 & !FROM_TAG))
    }
}

fn is_tombstone(stored: &Stored) -> bool {
    stored.body == record::TOMBSTONE
}

impl Migrating {
    /// Moves sessions from `from` to `to`, on their first write, with the system clock.
    pub fn new(from: Arc<dyn RawStore>, to: Arc<dyn RawStore>) -> Self {
        let (a, b) = (from.capabilities(), to.capabilities());
        Migrating {
            capabilities: Capabilities {
                count: a.count && b.count,
                owner_index: a.owner_index && b.owner_index,
                gc: a.gc && b.gc,
            },
            from,
            to,
            clock: Arc::new(SystemClock),
            move_on: MoveOn::Write,
        }
    }

    /// When sessions move (default [`MoveOn::Write`]).
    pub fn move_on(mut self, move_on: MoveOn) -> Self {
        self.move_on = move_on;
        self
    }

    /// The clock a move on read judges expiry with; give it the manager's clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The store sessions move out of.
    pub fn from_store(&self) -> &Arc<dyn RawStore> {
        &self.from
    }

    /// The store sessions move into.
    pub fn to_store(&self) -> &Arc<dyn RawStore> {
        &self.to
    }

    /// A version from `to`, refused if it has the tag bit (see the module docs).
    fn checked(&self, version: Version) -> Result<Version> {
        if version.0 & FROM_TAG == 0 {
            Ok(version)
        } else {
            Err(tag_in_use(self.to.provider()))
        }
    }

    /// A version from `from`, tagged.
    fn tagged(&self, version: Version) -> Result<Version> {
        if version.0 & FROM_TAG == 0 {
            Ok(Version(version.0 | FROM_TAG))
        } else {
            Err(tag_in_use(self.from.provider()))
        }
    }

    fn checked_stored(&self, stored: Stored) -> Result<Stored> {
        Ok(Stored {
            version: self.checked(stored.version)?,
            ..stored
        })
    }

    /// What a move writes over a record it retires: a tombstone that is already expired, so
    /// that counting never sees it and a store with native TTLs drops it on its own.
    fn tombstone() -> Write<'static> {
        Write {
            body: record::TOMBSTONE,
            expires_at: 0,
            ttl_ms: TOMBSTONE_TTL_MS,
            owner: None,
        }
    }

    /// The record of `id`, from `to` or else `from` (tombstones skipped), without moving it.
    async fn locate(&self, id: &SessionId) -> Result<Option<Found>> {
        if let Some(stored) = self.to.read(id).await?
            && !is_tombstone(&stored)
        {
            return Ok(Some(Found::To(self.checked_stored(stored)?)));
        }
        if let Some(stored) = self.from.read(id).await?
            && !is_tombstone(&stored)
        {
            let version = self.tagged(stored.version)?;
            return Ok(Some(Found::From(Stored { version, ..stored })));
        }
        // Moved between the two reads: `to` has it now, if anyone does.
        self.to
            .read(id)
            .await?
            .map(|stored| self.checked_stored(stored).map(Found::To))
            .transpose()
    }

    /// Moves `stored` (read from `from`, version tagged) to `to` as it is; answers what a read
    /// of `id` answers afterwards.
    async fn move_on_read(&self, id: &SessionId, stored: Stored) -> Result<Option<Stored>> {
        let now = self.clock.now();
        // A dead record stays where it is: core deletes it. One core cannot decode stays
        // too: its owner, which `to`'s owner index needs, is inside.
        let owner = match Record::decode(&stored.body, usize::MAX) {
            Ok(record) if stored.expires_at > now => record.owner,
            _ => return Ok(Some(stored)),
        };
        let Origin::From(expected) = origin(stored.version) else {
            return Ok(Some(stored));
        };
        let write = Write::new(&stored.body, stored.expires_at, now, owner.as_deref());
        match self.move_from(id, expected, write).await? {
            Saved::Saved(version) => Ok(Some(Stored { version, ..stored })),
            // Moved, changed or destroyed by another request meanwhile: read what is there.
            Saved::Conflict | Saved::Missing => Ok(self.locate(id).await?.map(Found::into_stored)),
        }
    }

    /// Moves `id` from `from` (where it must still hold `expected`, untagged) to `to`,
    /// writing `record`: a save of a record read from `from`.
    async fn move_from(
        &self,
        id: &SessionId,
        expected: Version,
        record: Write<'_>,
    ) -> Result<Saved> {
        let moved = relocate(
            &*self.from,
            id,
            expected,
            &*self.to,
            id,
            record,
            Self::tombstone(),
        )
        .await?;
        match moved {
            Relocated::Moved(version) => Ok(Saved::Saved(self.checked(version)?)),
            // Another request moved it first; core reads it again, from `to`, and replays.
            Relocated::Exists => Ok(Saved::Conflict),
            Relocated::Lost { lost, written } => self.take_back(id, written, lost).await,
            Relocated::Undecided { error, written } => {
                self.settle(id, expected, written).await;
                Err(error)
            }
        }
    }

    /// After a lost move: takes the copy written to `to` (with version `written`) back, and
    /// says what the move's caller is told.
    async fn take_back(&self, id: &SessionId, written: Version, lost: Moved) -> Result<Saved> {
        let destroyed = lost == Moved::Missing;
        match self.to.save(id, written, Self::tombstone()).await? {
            Saved::Saved(_) => {
                self.to.destroy(id).await?;
            }
            Saved::Missing => {}
            // Another request wrote to the copy already. The record was destroyed in `from`
            // meanwhile: the copy goes with what was written to it, or the destroy would be
            // undone.
            Saved::Conflict if destroyed => {
                self.to.destroy(id).await?;
            }
            // Only `from`'s version changed (an expiry refresh): the copy is the session now.
            Saved::Conflict => self.retire_from(id).await?,
        }
        Ok(if destroyed {
            Saved::Missing
        } else {
            Saved::Conflict
        })
    }

    /// Retires whatever `from` holds under `id`, whatever its version: `to` holds the
    /// session.
    async fn retire_from(&self, id: &SessionId) -> Result<()> {
        for _ in 0..RETIRE_ATTEMPTS {
            let Some(stored) = self.from.read(id).await? else {
                return Ok(());
            };
            if !is_tombstone(&stored) {
                match self
                    .from
                    .save(id, stored.version, Self::tombstone())
                    .await?
                {
                    Saved::Saved(_) => {}
                    Saved::Missing => return Ok(()),
                    Saved::Conflict => continue,
                }
            }
            self.from.destroy(id).await?;
            return Ok(());
        }
        tracing::warn!(session = %id, "a moved session's old record kept changing; `to` shadows it");
        Ok(())
    }

    /// After a move whose retiring save failed, so that nobody knows whether `from`'s record
    /// was retired: looks, and takes the copy in `to` back unless the retiring save did
    /// happen. When even the look fails, the copy stays: the session is then in both stores,
    /// `to` answering first, rather than in neither.
    async fn settle(&self, id: &SessionId, expected: Version, written: Version) {
        let lost = match self.from.read(id).await {
            Ok(Some(stored)) if is_tombstone(&stored) => return,
            Ok(Some(stored)) if stored.version == expected => Moved::Conflict,
            Ok(_) => Moved::Missing,
            Err(e) => {
                tracing::warn!(session = %id, error = %e, "an interrupted move left the session in both stores");
                return;
            }
        };
        if let Err(e) = self.take_back(id, written, lost).await {
            tracing::warn!(session = %id, error = %e, "could not take back an interrupted move");
        }
    }

    fn unsupported(&self, operation: &'static str) -> Error {
        Error::unsupported(self.provider(), operation)
    }
}

fn tag_in_use(provider: &'static str) -> Error {
    Error::backend(
        provider,
        format!("a version with the top bit set ({FROM_TAG:#x}), which Migrating reserves"),
    )
}

// Not a `Wrapper`: it has two stores, and every operation decides between them.
#[async_trait]
impl RawStore for Migrating {
    fn provider(&self) -> &'static str {
        "migrating"
    }

    async fn read(&self, id: &SessionId) -> Result<Option<Stored>> {
        match self.locate(id).await? {
            Some(Found::From(stored)) if self.move_on == MoveOn::Read => {
                self.move_on_read(id, stored).await
            }
            found => Ok(found.map(Found::into_stored)),
        }
    }

    fn read_in_memory(&self, id: &str) -> Option<Result<Option<(SessionId, Stored)>>> {
        match self.to.read_in_memory(id)? {
            Ok(Some((own, stored))) if !is_tombstone(&stored) => Some(
                self.checked_stored(stored)
                    .map(|stored| Some((own, stored))),
            ),
            Err(e) => Some(Err(e)),
            // Not in `to`: it may be in `from`, which `read` asks.
            Ok(_) => None,
        }
    }

    async fn exist(&self, id: &SessionId) -> Result<bool> {
        Ok(self.locate(id).await?.is_some())
    }

    async fn insert(&self, id: &SessionId, record: Write<'_>) -> Result<Inserted> {
        if self.from.exist(id).await? {
            return Ok(Inserted::Exists);
        }
        match self.to.insert(id, record).await? {
            Inserted::Created(version) => Ok(Inserted::Created(self.checked(version)?)),
            Inserted::Exists => Ok(Inserted::Exists),
        }
    }

    async fn save(&self, id: &SessionId, expected: Version, record: Write<'_>) -> Result<Saved> {
        match origin(expected) {
            Origin::To(expected) => match self.to.save(id, expected, record).await? {
                Saved::Saved(version) => Ok(Saved::Saved(self.checked(version)?)),
                other => Ok(other),
            },
            Origin::From(expected) => self.move_from(id, expected, record).await,
        }
    }

    async fn touch(&self, id: &SessionId, expires_at: Millis, ttl_ms: Millis) -> Result<bool> {
        Ok(self.to.touch(id, expires_at, ttl_ms).await?
            || self.from.touch(id, expires_at, ttl_ms).await?
            // Moved between the two calls.
            || self.to.touch(id, expires_at, ttl_ms).await?)
    }

    async fn destroy(&self, id: &SessionId) -> Result<bool> {
        // `from` first: a move that read the record before this destroy then loses its
        // retiring save and takes its copy back (see the module docs).
        let in_from = self.from.destroy(id).await?;
        let in_to = self.to.destroy(id).await?;
        Ok(in_from || in_to)
    }

    async fn regenerate(
        &self,
        old: &SessionId,
        expected: Version,
        new: &SessionId,
        record: Write<'_>,
    ) -> Result<Moved> {
        match origin(expected) {
            Origin::To(expected) => {
                let moved = match self.to.regenerate(old, expected, new, record).await? {
                    Moved::Moved(version) => Moved::Moved(self.checked(version)?),
                    other => return Ok(other),
                };
                // A copy an interrupted move left in `from` must not bring `old` back.
                self.from.destroy(old).await?;
                Ok(moved)
            }
            Origin::From(expected) => {
                // Into `to` through `self`, whose insert also checks `from` for `new`.
                let moved = relocate(
                    &*self.from,
                    old,
                    expected,
                    self,
                    new,
                    record,
                    Self::tombstone(),
                )
                .await?;
                match moved {
                    Relocated::Moved(version) => Ok(Moved::Moved(version)),
                    Relocated::Exists => Ok(Moved::Exists),
                    // Nobody else knows `new` yet: what was written there is this mover's.
                    Relocated::Lost { lost, .. } => {
                        self.to.destroy(new).await?;
                        Ok(lost)
                    }
                    Relocated::Undecided { error, .. } => {
                        self.to.destroy(new).await?;
                        Err(error)
                    }
                }
            }
        }
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    async fn count(&self, now: Millis) -> Result<u64> {
        if !self.capabilities.count {
            return Err(self.unsupported("count"));
        }
        Ok(self.to.count(now).await? + self.from.count(now).await?)
    }

    async fn gc(&self, now: Millis) -> Result<u64> {
        if !self.capabilities.gc {
            return Err(self.unsupported("gc"));
        }
        Ok(self.to.gc(now).await? + self.from.gc(now).await?)
    }

    async fn owner_sessions(&self, owner: &str, now: Millis) -> Result<Vec<SessionId>> {
        if !self.capabilities.owner_index {
            return Err(self.unsupported("owner index"));
        }
        let mut sessions = self.to.owner_sessions(owner, now).await?;
        for id in self.from.owner_sessions(owner, now).await? {
            // Mid-move, a session is in both.
            if !sessions.contains(&id) {
                sessions.push(id);
            }
        }
        Ok(sessions)
    }
}
