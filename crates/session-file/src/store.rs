//! [`FileStore`]: the [`RawStore`] over a directory tree.

use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use session_core::{
    Capabilities, Error, Inserted, Millis, ProviderContext, RawStore, Result, Saved, SessionId,
    Stored, Version, Write,
};

use crate::config::FileConfig;
use crate::disk::{self, DirLock, NAME, backend};
use crate::format::{self, MAX_OWNER_LEN, Record};
use crate::{gc, owners};

/// The file-backed store. Cheap to clone; clones share one root.
///
/// Every operation runs its file I/O on tokio's blocking pool (`spawn_blocking`), so it needs
/// a tokio runtime and never blocks the async workers.
#[derive(Clone)]
pub struct FileStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for FileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileStore")
            .field("root", &self.inner.root)
            .field("max_body", &self.inner.max_body)
            .field("orphan_grace", &self.inner.orphan_grace)
            .finish()
    }
}

/// What the blocking operations share.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) root: PathBuf,
    pub(crate) max_body: usize,
    pub(crate) orphan_grace: Duration,
}

/// A session file as found on disk.
#[derive(Debug)]
pub(crate) enum Loaded {
    /// No file.
    Absent,
    /// A file that is not a valid session file (already logged); treated as absent.
    Corrupt,
    /// A valid file.
    Present(Record),
}

impl FileStore {
    /// Opens (and if needed creates, mode 0700) the root directory of `config`.
    ///
    /// Records whose body exceeds `ctx.max_record_size` are treated as corrupt when read; an
    /// owner longer than 64 KiB is refused on write with [`Error::TooLarge`]. A root
    /// that is not a directory or that is world-writable is refused with [`Error::Config`]:
    /// anyone could plant or swap session files there.
    pub async fn open(config: FileConfig, ctx: &ProviderContext) -> Result<FileStore> {
        config.validate()?;
        let inner = Inner {
            root: config.root,
            max_body: ctx.max_record_size,
            orphan_grace: config.orphan_grace,
        };
        let inner = tokio::task::spawn_blocking(move || prepare_root(&inner.root).map(|()| inner))
            .await
            .map_err(join_error)??;
        Ok(FileStore {
            inner: Arc::new(inner),
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Runs `f` on the blocking pool.
    async fn blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(join_error)?
    }
}

fn join_error(e: tokio::task::JoinError) -> Error {
    Error::backend(NAME, format!("file I/O task failed: {e}"))
}

fn prepare_root(root: &Path) -> Result<()> {
    // The root itself may be a symlink (a mounted volume, a deploy layout): only the tree
    // below it is the provider's own and checked for symlinks.
    let meta = match fs::metadata(root) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(root)
                .map_err(backend("creating the session root directory"))?;
            fs::metadata(root).map_err(backend("inspecting the session root directory"))?
        }
        Err(e) => return Err(backend("inspecting the session root directory")(e)),
    };
    if !meta.is_dir() {
        return Err(Error::config(
            "root",
            format!("{} is not a directory", root.display()),
        ));
    }
    let mode = meta.permissions().mode();
    if mode & 0o002 != 0 {
        return Err(Error::config(
            "root",
            format!(
                "{} is world-writable (mode {:o}); anyone could plant session files there",
                root.display(),
                mode & 0o7777
            ),
        ));
    }
    Ok(())
}

/// The `x` and `y` directory names of an ID: its first two characters.
pub(crate) fn shard_names(id: &SessionId) -> (&str, &str) {
    let s = id.as_str();
    // IDs are at least 32 ASCII hex characters, so both always exist.
    (s.get(0..1).unwrap_or("_"), s.get(1..2).unwrap_or("_"))
}

impl Inner {
    /// The `x/y` directory of `id` if it exists; an error if a symlink stands in its way.
    pub(crate) fn existing_shard(&self, id: &SessionId) -> io::Result<Option<PathBuf>> {
        let (x, y) = shard_names(id);
        let x = self.root.join(x);
        if !disk::dir_present(&x)? {
            return Ok(None);
        }
        let y = x.join(y);
        Ok(disk::dir_present(&y)?.then_some(y))
    }

    /// The `x/y` directory of `id`, created (0700) when missing.
    pub(crate) fn ensure_shard(&self, id: &SessionId) -> io::Result<PathBuf> {
        let (x, y) = shard_names(id);
        let x = self.root.join(x);
        match disk::ensure_dir(&x) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // The root was removed while running (someone cleared the sessions with
                // `rm -r`): recreate it as `open` did, instead of failing every new session.
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(&self.root)?;
                disk::ensure_dir(&x)?;
            }
            other => other?,
        }
        let y = x.join(y);
        disk::ensure_dir(&y)?;
        Ok(y)
    }

    /// Reads the session file of `id` in `dir`; the body only when `with_body` is set.
    pub(crate) fn load(&self, dir: &Path, id: &SessionId, with_body: bool) -> io::Result<Loaded> {
        let Some((mut file, len)) = disk::open_regular(&dir.join(id.as_str()))? else {
            return Ok(Loaded::Absent);
        };
        Ok(
            match format::read_from(&mut file, len, self.max_body, with_body)? {
                Ok(record) => Loaded::Present(record),
                Err(why) => {
                    tracing::warn!(session = %id, %why, "corrupt session file; treating it as absent");
                    Loaded::Corrupt
                }
            },
        )
    }

    fn read(&self, id: &SessionId) -> Result<Option<Stored>> {
        let Some(dir) = self
            .existing_shard(id)
            .map_err(backend("reading a session"))?
        else {
            return Ok(None);
        };
        match self
            .load(&dir, id, true)
            .map_err(backend("reading a session"))?
        {
            Loaded::Present(record) => Ok(Some(Stored {
                body: record.body.into(),
                version: Version(record.version),
                expires_at: record.expires_at,
            })),
            Loaded::Absent | Loaded::Corrupt => Ok(None),
        }
    }

    fn exist(&self, id: &SessionId) -> Result<bool> {
        let Some(dir) = self
            .existing_shard(id)
            .map_err(backend("reading a session"))?
        else {
            return Ok(false);
        };
        Ok(matches!(
            self.load(&dir, id, false)
                .map_err(backend("reading a session"))?,
            Loaded::Present(_)
        ))
    }

    fn insert(&self, id: &SessionId, w: &OwnedWrite) -> Result<Inserted> {
        // Versions of one file count up from a random start, so a record destroyed and
        // created again under the same ID does not reuse the old versions.
        let version = Version::random(NAME)?;
        let err = backend("inserting a session");
        let run = || -> io::Result<Inserted> {
            let dir = self.ensure_shard(id)?;
            let _lock = DirLock::acquire(&dir)?;
            // A corrupt file reads as absent everywhere, so insert replaces it.
            if let Loaded::Present(_) = self.load(&dir, id, false)? {
                return Ok(Inserted::Exists);
            }
            // Marker first: a crash in between leaves a stale marker, which readers of the
            // index drop, rather than a session missing from its owner's list.
            if let Some(owner) = &w.owner {
                owners::add(&self.root, owner, id)?;
            }
            let bytes = format::encode(version.0, w.expires_at, w.owner.as_deref(), &w.body);
            disk::write_atomic(&dir, id.as_str(), &bytes)?;
            Ok(Inserted::Created(version))
        };
        run().map_err(err)
    }

    fn save(&self, id: &SessionId, expected: Version, w: &OwnedWrite) -> Result<Saved> {
        let run = || -> io::Result<Saved> {
            let Some(dir) = self.existing_shard(id)? else {
                return Ok(Saved::Missing);
            };
            let _lock = DirLock::acquire(&dir)?;
            let Loaded::Present(old) = self.load(&dir, id, false)? else {
                return Ok(Saved::Missing);
            };
            if old.version != expected.0 {
                return Ok(Saved::Conflict);
            }
            let version = old.version.wrapping_add(1);
            if let Some(owner) = &w.owner
                && old.owner.as_ref() != Some(owner)
            {
                owners::add(&self.root, owner, id)?;
            }
            let bytes = format::encode(version, w.expires_at, w.owner.as_deref(), &w.body);
            disk::write_atomic(&dir, id.as_str(), &bytes)?;
            if let Some(old_owner) = &old.owner
                && w.owner.as_ref() != Some(old_owner)
            {
                owners::remove(&self.root, old_owner, id)?;
            }
            Ok(Saved::Saved(Version(version)))
        };
        run().map_err(backend("saving a session"))
    }

    fn touch(&self, id: &SessionId, expires_at: Millis) -> Result<bool> {
        let run = || -> io::Result<bool> {
            let Some(dir) = self.existing_shard(id)? else {
                return Ok(false);
            };
            let _lock = DirLock::acquire(&dir)?;
            let Loaded::Present(record) = self.load(&dir, id, true)? else {
                return Ok(false);
            };
            // Same version: only the expiry changes, so a concurrent save of this session
            // still succeeds (its data is not stale).
            let bytes = format::encode(
                record.version,
                expires_at,
                record.owner.as_deref(),
                &record.body,
            );
            disk::write_atomic(&dir, id.as_str(), &bytes)?;
            Ok(true)
        };
        run().map_err(backend("touching a session"))
    }

    fn destroy(&self, id: &SessionId) -> Result<bool> {
        let run = || -> io::Result<bool> {
            let Some(dir) = self.existing_shard(id)? else {
                return Ok(false);
            };
            let _lock = DirLock::acquire(&dir)?;
            match self.load(&dir, id, false)? {
                Loaded::Absent => Ok(false),
                Loaded::Corrupt => {
                    disk::remove_durably(&dir, id.as_str())?;
                    Ok(false)
                }
                Loaded::Present(record) => {
                    let removed = disk::remove_durably(&dir, id.as_str())?;
                    if let Some(owner) = &record.owner {
                        owners::remove(&self.root, owner, id)?;
                    }
                    Ok(removed)
                }
            }
        };
        run().map_err(backend("destroying a session"))
    }
}

/// A [`Write`] copied so it can move to the blocking pool.
struct OwnedWrite {
    body: Vec<u8>,
    expires_at: Millis,
    owner: Option<String>,
}

impl OwnedWrite {
    fn new(w: &Write<'_>) -> Result<Self> {
        if let Some(owner) = w.owner
            && owner.len() > MAX_OWNER_LEN
        {
            return Err(Error::TooLarge {
                size: owner.len(),
                limit: MAX_OWNER_LEN,
            });
        }
        Ok(OwnedWrite {
            body: w.body.to_vec(),
            expires_at: w.expires_at,
            owner: w.owner.map(str::to_owned),
        })
    }
}

#[async_trait]
impl RawStore for FileStore {
    fn provider(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }

    async fn read(&self, id: &SessionId) -> Result<Option<Stored>> {
        let id = id.clone();
        self.blocking(move |inner| inner.read(&id)).await
    }

    async fn exist(&self, id: &SessionId) -> Result<bool> {
        let id = id.clone();
        self.blocking(move |inner| inner.exist(&id)).await
    }

    async fn insert(&self, id: &SessionId, record: Write<'_>) -> Result<Inserted> {
        let (id, w) = (id.clone(), OwnedWrite::new(&record)?);
        self.blocking(move |inner| inner.insert(&id, &w)).await
    }

    async fn save(&self, id: &SessionId, expected: Version, record: Write<'_>) -> Result<Saved> {
        let (id, w) = (id.clone(), OwnedWrite::new(&record)?);
        self.blocking(move |inner| inner.save(&id, expected, &w))
            .await
    }

    async fn touch(&self, id: &SessionId, expires_at: Millis, _ttl_ms: Millis) -> Result<bool> {
        let id = id.clone();
        self.blocking(move |inner| inner.touch(&id, expires_at))
            .await
    }

    async fn destroy(&self, id: &SessionId) -> Result<bool> {
        let id = id.clone();
        self.blocking(move |inner| inner.destroy(&id)).await
    }

    /// Walks the tree one `x/y` directory at a time, reading headers only.
    async fn count(&self, now: Millis) -> Result<u64> {
        let dirs = self.blocking(gc::shard_dirs).await?;
        let mut live = 0;
        for dir in dirs {
            live += self
                .blocking(move |inner| gc::count_shard(inner, &dir, now))
                .await?;
        }
        Ok(live)
    }

    async fn gc(&self, now: Millis) -> Result<u64> {
        let dirs = self.blocking(gc::shard_dirs).await?;
        let mut removed = 0;
        // One directory per blocking call: requests interleave with the sweep, and each
        // directory's lock is held only while its expired files are removed.
        for dir in dirs {
            removed += self
                .blocking(move |inner| Ok(gc::sweep_shard(inner, &dir, now)))
                .await?;
        }
        let owner_dirs = self.blocking(gc::owner_dirs).await?;
        for dir in owner_dirs {
            self.blocking(move |inner| {
                gc::sweep_owner_dir(inner, &dir);
                Ok(())
            })
            .await?;
        }
        Ok(removed)
    }

    async fn owner_sessions(&self, owner: &str, now: Millis) -> Result<Vec<SessionId>> {
        let owner = owner.to_owned();
        self.blocking(move |inner| owners::live_sessions(inner, &owner, now))
            .await
    }
}
