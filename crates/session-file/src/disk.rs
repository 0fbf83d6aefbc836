//! Blocking file-system helpers: directory checks, symlink-refusing opens, atomic writes and
//! the per-directory lock. Everything here runs on tokio's blocking pool.

use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use session_core::Error;

/// The provider's registry name.
pub(crate) const NAME: &str = "file";
/// Name of the lock file in every `x/y` directory.
pub(crate) const LOCK_FILE: &str = ".lock";
/// Suffix of temporary files; GC removes old ones (left behind by a crash mid-write).
pub(crate) const TEMP_SUFFIX: &str = ".tmp";

/// An I/O failure with what was being done. Paths are deliberately left out: most of them
/// contain a session ID, and errors end up in logs.
#[derive(Debug)]
pub(crate) struct IoFailure {
    context: &'static str,
    source: io::Error,
}

impl fmt::Display for IoFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.context, self.source)
    }
}

impl std::error::Error for IoFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Maps an I/O error to [`Error::Backend`] with `context`.
pub(crate) fn backend(context: &'static str) -> impl FnOnce(io::Error) -> Error {
    move |source| Error::backend(NAME, IoFailure { context, source })
}

/// The error for a symlink or other non-regular entry where the provider expects its own file
/// or directory: someone tampered with the tree, so the operation fails loudly.
pub(crate) fn refused(what: &str) -> io::Error {
    io::Error::other(format!("refusing {what}"))
}

/// Whether `path` is a real directory: `Ok(false)` when it does not exist, an error when a
/// symlink or anything else stands there.
pub(crate) fn dir_present(path: &Path) -> io::Result<bool> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            Err(refused("a symlink where a session directory should be"))
        }
        Ok(meta) if meta.is_dir() => Ok(true),
        Ok(_) => Err(refused(
            "a non-directory where a session directory should be",
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Creates the directory `path` with mode 0700 unless it exists (its parent must exist).
pub(crate) fn ensure_dir(path: &Path) -> io::Result<()> {
    if dir_present(path)? {
        return Ok(());
    }
    match DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => Ok(()),
        // Another thread or process created it first: check what it made.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => dir_present(path).map(|_| ()),
        Err(e) => Err(e),
    }
}

/// Opens an existing regular file for reading without following a symlink; `Ok(None)` when
/// there is no file. Returns the file and its length.
pub(crate) fn open_regular(path: &Path) -> io::Result<Option<(File, u64)>> {
    // O_NONBLOCK: a FIFO planted at the path must not hang the open; it has no effect on
    // regular files.
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path);
    let file = match opened {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if is_symlink_error(&e) => {
            return Err(refused("a symlink where a session file should be"));
        }
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(refused("a non-regular file where a session file should be"));
    }
    Ok(Some((file, meta.len())))
}

/// `open(O_NOFOLLOW)` on a symlink fails with ELOOP on Linux and macOS, EMLINK on FreeBSD.
fn is_symlink_error(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(code) if code == libc::ELOOP || code == libc::EMLINK)
}

/// Replaces `dir/name` with `bytes` atomically: a temporary file in the same directory is
/// written and fsynced, renamed over the target, then the directory is fsynced so the rename
/// itself survives a crash. Readers see the old file or the new one, never a partial one.
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let temp = dir.join(format!(".{name}.{}{TEMP_SUFFIX}", random_hex()?));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&temp)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| fs::rename(&temp, dir.join(name)));
    if let Err(e) = written {
        // Best effort: if this fails too, GC removes the orphan after the grace period.
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    sync_dir(dir)
}

/// Removes `dir/name` and makes the removal durable; `Ok(false)` when there was no file.
pub(crate) fn remove_durably(dir: &Path, name: &str) -> io::Result<bool> {
    match fs::remove_file(dir.join(name)) {
        Ok(()) => {
            sync_dir(dir)?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Creates an empty 0600 file `dir/name` if it is missing (owner-index markers).
pub(crate) fn create_marker(dir: &Path, name: &str) -> io::Result<()> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(dir.join(name))
        .map(drop)
        .map_err(|e| {
            if is_symlink_error(&e) {
                refused("a symlink where an owner marker should be")
            } else {
                e
            }
        })
}

/// Flushes a directory's entries (creations, renames, removals) to disk.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// 16 random hex characters for temporary file names.
fn random_hex() -> io::Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(hex::encode(bytes))
}

/// An exclusive advisory lock (`flock`) on the `.lock` file of one `x/y` directory, held for
/// a read-modify-write. `flock` locks belong to the open file description, so two threads,
/// two stores or two processes each opening the file exclude each other. Released on drop.
#[derive(Debug)]
pub(crate) struct DirLock(File);

impl DirLock {
    /// Blocks until the lock of `dir` is held.
    pub(crate) fn acquire(dir: &Path) -> io::Result<DirLock> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(dir.join(LOCK_FILE))
            .map_err(|e| {
                if is_symlink_error(&e) {
                    refused("a symlink where the lock file should be")
                } else {
                    e
                }
            })?;
        if !file.metadata()?.is_file() {
            return Err(refused("a non-regular lock file"));
        }
        file.lock()?;
        Ok(DirLock(file))
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Closing the file releases the lock anyway; unlocking first just makes it explicit.
        let _ = self.0.unlock();
    }
}
