//! The owner index: `root/owners/<hex sha256(owner)>/<id>` empty marker files.
//!
//! Markers are written under the session's directory lock, before the session file when an
//! owner is bound and after it when one is unbound, so a crash can leave a stale marker but
//! never hide a session from its owner's list. Readers check every marker against the owner
//! recorded in the session file's header and drop stale ones.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use session_core::{Millis, Result, SessionId};
use sha2::{Digest, Sha256};

use crate::disk::{self, DirLock, backend};
use crate::store::{Inner, Loaded};

/// The directory under the root that holds the index.
pub(crate) const OWNERS_DIR: &str = "owners";

/// The directory name of `owner`: a hash, so any owner string is a safe, fixed-length name.
pub(crate) fn owner_hash(owner: &str) -> String {
    hex::encode(Sha256::digest(owner.as_bytes()))
}

fn owner_dir(root: &Path, owner: &str) -> PathBuf {
    root.join(OWNERS_DIR).join(owner_hash(owner))
}

/// Records that `id` belongs to `owner`, durably.
pub(crate) fn add(root: &Path, owner: &str, id: &SessionId) -> io::Result<()> {
    disk::ensure_dir(&root.join(OWNERS_DIR))?;
    let dir = owner_dir(root, owner);
    let mut retries = 0;
    loop {
        disk::ensure_dir(&dir)?;
        match disk::create_marker(&dir, id.as_str()) {
            Ok(()) => return disk::sync_dir(&dir),
            // GC removed the then-empty owner directory between the two calls: recreate it.
            Err(e) if e.kind() == io::ErrorKind::NotFound && retries < 3 => retries += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Removes the marker of `id` under `owner`, if any.
pub(crate) fn remove(root: &Path, owner: &str, id: &SessionId) -> io::Result<()> {
    if !disk::dir_present(&root.join(OWNERS_DIR))? {
        return Ok(());
    }
    let dir = owner_dir(root, owner);
    if !disk::dir_present(&dir)? {
        return Ok(());
    }
    remove_marker(&dir, id)
}

fn remove_marker(dir: &Path, id: &SessionId) -> io::Result<()> {
    match fs::remove_file(dir.join(id.as_str())) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The IDs with a marker in the owner directory `dir`.
pub(crate) fn markers(dir: &Path) -> io::Result<Vec<SessionId>> {
    let mut ids = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(id) = entry
            .file_name()
            .to_str()
            .and_then(|name| SessionId::parse_any(name).ok())
        {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// What the session file of a marker says.
enum Target {
    /// The file exists and names this owner; it expires at the given time.
    Matches(Millis),
    /// No (valid) file, or one bound to another owner: the marker is stale.
    Stale,
}

fn target(inner: &Inner, id: &SessionId, hash: &str) -> io::Result<Target> {
    let Some(dir) = inner.existing_shard(id)? else {
        return Ok(Target::Stale);
    };
    Ok(match inner.load(&dir, id, false)? {
        Loaded::Present(record)
            if record.owner.as_deref().map(owner_hash).as_deref() == Some(hash) =>
        {
            Target::Matches(record.expires_at)
        }
        _ => Target::Stale,
    })
}

/// Whether the marker of `id` in the owner directory named `hash` is stale (checked without
/// the lock; [`prune`] checks again under it).
pub(crate) fn is_stale(inner: &Inner, id: &SessionId, hash: &str) -> io::Result<bool> {
    Ok(matches!(target(inner, id, hash)?, Target::Stale))
}

/// Removes the marker of `id` in the owner directory `dir` (named `hash`) if it is still
/// stale once the session's lock is held: a concurrent insert writes its marker before its
/// session file, and must not lose it.
pub(crate) fn prune(inner: &Inner, dir: &Path, hash: &str, id: &SessionId) -> io::Result<()> {
    let shard = inner.ensure_shard(id)?;
    let _lock = DirLock::acquire(&shard)?;
    if let Target::Stale = target(inner, id, hash)? {
        remove_marker(dir, id)?;
    }
    Ok(())
}

/// The live sessions of `owner`, dropping stale markers on the way.
pub(crate) fn live_sessions(inner: &Inner, owner: &str, now: Millis) -> Result<Vec<SessionId>> {
    let err = || backend("listing an owner's sessions");
    if !disk::dir_present(&inner.root.join(OWNERS_DIR)).map_err(err())? {
        return Ok(Vec::new());
    }
    let hash = owner_hash(owner);
    let dir = owner_dir(&inner.root, owner);
    if !disk::dir_present(&dir).map_err(err())? {
        return Ok(Vec::new());
    }
    let mut live = Vec::new();
    for id in markers(&dir).map_err(err())? {
        match target(inner, &id, &hash).map_err(err())? {
            Target::Matches(expires_at) => {
                if expires_at > now {
                    live.push(id);
                }
            }
            Target::Stale => prune(inner, &dir, &hash, &id).map_err(err())?,
        }
    }
    Ok(live)
}
