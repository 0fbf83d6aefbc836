//! Walking the tree: garbage collection and counting, one `x/y` directory per call.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use session_core::{Millis, Result, SessionId};

use crate::disk::{self, DirLock, LOCK_FILE, TEMP_SUFFIX, backend};
use crate::owners::{self, OWNERS_DIR};
use crate::store::{Inner, Loaded, shard_names};

fn is_shard_name(name: &str) -> bool {
    name.len() == 1
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Subdirectories of `dir` named like a shard (one lowercase hex character). Symlinks are
/// skipped with a warning: the tree below the root is the provider's own.
fn shard_children(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if !is_shard_name(&name) {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            out.push(entry.path());
        } else if kind.is_symlink() {
            tracing::warn!(dir = %dir.display(), %name, "skipping a symlink in the session tree");
        }
    }
    out.sort();
    Ok(out)
}

/// Every `x/y` directory under the root; none when the root is missing.
pub(crate) fn shard_dirs(inner: &Inner) -> Result<Vec<PathBuf>> {
    let xs = match shard_children(&inner.root) {
        Ok(xs) => xs,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(backend("listing the session root directory")(e)),
    };
    let mut dirs = Vec::new();
    for x in xs {
        match shard_children(&x) {
            Ok(ys) => dirs.extend(ys),
            Err(e) => {
                tracing::warn!(dir = %x.display(), error = %e, "cannot list a session directory")
            }
        }
    }
    Ok(dirs)
}

/// The session IDs filed in `dir`, and the paths of its temporary files.
struct Listing {
    ids: Vec<SessionId>,
    temps: Vec<PathBuf>,
}

fn list_shard(dir: &Path) -> io::Result<Listing> {
    let mut listing = Listing {
        ids: Vec::new(),
        temps: Vec::new(),
    };
    let (x, y) = (component(dir.parent()), component(Some(dir)));
    for entry in fs::read_dir(dir)? {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot read a directory entry");
                continue;
            }
        };
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        if name == LOCK_FILE {
            continue;
        }
        if name.starts_with('.') && name.ends_with(TEMP_SUFFIX) {
            listing.temps.push(entry.path());
        } else if let Ok(id) = SessionId::parse_any(name) {
            // A file in the wrong directory was not written by this provider: leave it.
            if shard_names(&id) == (x.as_str(), y.as_str()) {
                listing.ids.push(id);
            }
        }
    }
    Ok(listing)
}

fn component(path: Option<&Path>) -> String {
    path.and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned()
}

/// Live sessions in one `x/y` directory. Unreadable entries are logged and skipped.
pub(crate) fn count_shard(inner: &Inner, dir: &Path, now: Millis) -> Result<u64> {
    let listing = match list_shard(dir) {
        Ok(listing) => listing,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(backend("listing a session directory")(e)),
    };
    let mut live = 0;
    for id in listing.ids {
        match inner.load(dir, &id, false) {
            Ok(Loaded::Present(record)) if record.expires_at > now => live += 1,
            Ok(_) => {}
            Err(e) => tracing::warn!(session = %id, error = %e, "count: skipping a session file"),
        }
    }
    Ok(live)
}

/// Whether the file at `path` was last modified at least `grace` ago.
fn older_than(path: &Path, grace: std::time::Duration, now: SystemTime) -> io::Result<bool> {
    let modified = fs::symlink_metadata(path)?.modified()?;
    // A modification time in the future is not old.
    Ok(now.duration_since(modified).is_ok_and(|age| age >= grace))
}

/// Sweeps one `x/y` directory: removes sessions expired at `now` (re-checked under the
/// directory's lock, so a session refreshed meanwhile stays), corrupt session files and
/// temporary files older than the grace period. Returns how many expired sessions were
/// removed. Errors are logged and the sweep goes on.
pub(crate) fn sweep_shard(inner: &Inner, dir: &Path, now: Millis) -> u64 {
    let listing = match list_shard(dir) {
        Ok(listing) => listing,
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "gc: cannot list a session directory");
            return 0;
        }
    };
    let wall = SystemTime::now();
    for temp in &listing.temps {
        // Temporary files are never locked: a writer's lives for milliseconds, far below the
        // grace period, so an old one belongs to a writer that crashed.
        match older_than(temp, inner.orphan_grace, wall) {
            Ok(true) => match fs::remove_file(temp) {
                Ok(()) => {
                    tracing::info!(dir = %dir.display(), "gc: removed an orphaned temporary file")
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), error = %e, "gc: cannot remove a temporary file")
                }
            },
            Ok(false) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "gc: cannot inspect a temporary file")
            }
        }
    }

    // First pass without the lock: most files are live and need no lock at all.
    let mut expired = Vec::new();
    let mut corrupt = Vec::new();
    for id in listing.ids {
        match inner.load(dir, &id, false) {
            Ok(Loaded::Present(record)) if record.expires_at <= now => expired.push(id),
            Ok(Loaded::Corrupt) => {
                match older_than(&dir.join(id.as_str()), inner.orphan_grace, wall) {
                    Ok(true) => corrupt.push(id),
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(session = %id, error = %e, "gc: cannot inspect a corrupt file")
                    }
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(session = %id, error = %e, "gc: skipping a session file"),
        }
    }
    if expired.is_empty() && corrupt.is_empty() {
        return 0;
    }

    let _lock = match DirLock::acquire(dir) {
        Ok(lock) => lock,
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "gc: cannot lock a session directory");
            return 0;
        }
    };
    let mut removed = 0;
    for id in expired {
        match inner.load(dir, &id, false) {
            Ok(Loaded::Present(record)) if record.expires_at <= now => {
                if let Err(e) = fs::remove_file(dir.join(id.as_str())) {
                    tracing::warn!(session = %id, error = %e, "gc: cannot remove an expired session");
                    continue;
                }
                removed += 1;
                if let Some(owner) = &record.owner
                    && let Err(e) = owners::remove(&inner.root, owner, &id)
                {
                    tracing::warn!(session = %id, error = %e, "gc: cannot remove an owner marker");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(session = %id, error = %e, "gc: skipping a session file"),
        }
    }
    for id in corrupt {
        if let Ok(Loaded::Corrupt) = inner.load(dir, &id, false) {
            match fs::remove_file(dir.join(id.as_str())) {
                Ok(()) => tracing::info!(session = %id, "gc: removed a corrupt session file"),
                Err(e) => {
                    tracing::warn!(session = %id, error = %e, "gc: cannot remove a corrupt file")
                }
            }
        }
    }
    // One directory fsync for the whole batch of removals.
    if let Err(e) = disk::sync_dir(dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "gc: cannot sync a session directory");
    }
    removed
}

/// Every owner directory of the index.
pub(crate) fn owner_dirs(inner: &Inner) -> Result<Vec<PathBuf>> {
    let root = inner.root.join(OWNERS_DIR);
    match disk::dir_present(&root) {
        Ok(true) => {}
        Ok(false) => return Ok(Vec::new()),
        Err(e) => {
            tracing::warn!(error = %e, "gc: skipping the owner index");
            return Ok(Vec::new());
        }
    }
    let entries = fs::read_dir(&root).map_err(backend("listing the owner index"))?;
    let mut dirs = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                tracing::warn!(error = %e, "gc: cannot read an owner index entry");
                continue;
            }
        };
        let is_hash = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()));
        if is_hash && entry.file_type().is_ok_and(|t| t.is_dir()) {
            dirs.push(entry.path());
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// Drops stale markers (left by a crash) from one owner directory and removes the directory
/// once it is empty. Errors are logged.
pub(crate) fn sweep_owner_dir(inner: &Inner, dir: &Path) {
    let hash = component(Some(dir));
    let ids = match owners::markers(dir) {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(error = %e, "gc: cannot list an owner directory");
            return;
        }
    };
    for id in ids {
        let checked = owners::is_stale(inner, &id, &hash).and_then(|stale| {
            if stale {
                owners::prune(inner, dir, &hash, &id)
            } else {
                Ok(())
            }
        });
        if let Err(e) = checked {
            tracing::warn!(session = %id, error = %e, "gc: cannot check an owner marker");
        }
    }
    // Fails harmlessly when a marker is (or was just) added; `owners::add` recreates the
    // directory if this wins the race.
    let _ = fs::remove_dir(dir);
}
