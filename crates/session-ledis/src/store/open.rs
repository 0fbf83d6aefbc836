//! Opening the sled directory: created owner-only, one store per directory in this process,
//! and a bounded wait for a previous owner process that is still exiting.
//!
//! sled holds an exclusive `flock` on its `db` file for as long as the database is open. A
//! process killed with SIGKILL keeps that lock until the kernel has finished tearing it down,
//! which takes a while when it was in the middle of an fsync. A supervisor or a shell that
//! restarts the server right after the kill would see the directory "in use" and the new
//! process would exit at once; so a lock held by another process is retried for
//! [`LOCK_WAIT`] before it is reported. A second store in this process is refused at once:
//! waiting cannot help, the other store is ours.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use session_core::{Error, Result};

use crate::NAME;

/// How long a directory locked by another process is retried before the open fails.
pub(crate) const LOCK_WAIT: Duration = Duration::from_secs(5);

/// The pause between two attempts while another process holds the lock.
const LOCK_RETRY: Duration = Duration::from_millis(20);

/// The directories opened by a live store of this process (canonical paths).
static OPEN_DIRS: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

fn open_dirs() -> MutexGuard<'static, BTreeSet<PathBuf>> {
    // A set of paths cannot be left half-updated by a panic.
    OPEN_DIRS.lock().unwrap_or_else(|e| e.into_inner())
}

/// This process's claim on a directory; released when the store that holds it is dropped.
#[derive(Debug)]
pub(super) struct DirClaim(PathBuf);

impl Drop for DirClaim {
    fn drop(&mut self) {
        open_dirs().remove(&self.0);
    }
}

/// Opens the sled database in `dir` (created 0700 if missing) and claims the directory for
/// this process. The claim must outlive the returned database.
pub(super) fn open_db(dir: &Path) -> Result<(sled::Db, DirClaim)> {
    create_private_dir(dir)?;
    let claim = claim(dir)?;
    let db = open_waiting(dir)?;
    Ok((db, claim))
}

fn claim(dir: &Path) -> Result<DirClaim> {
    let key = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if !open_dirs().insert(key.clone()) {
        return Err(Error::config(
            "data_dir",
            format!(
                "{} is in use by another store of this process, and sled allows one owner \
                 per directory; give each manager its own data_dir",
                dir.display()
            ),
        ));
    }
    Ok(DirClaim(key))
}

/// `sled::open`, retrying for [`LOCK_WAIT`] while another process holds the directory.
fn open_waiting(dir: &Path) -> Result<sled::Db> {
    let started = Instant::now();
    let mut warned = false;
    loop {
        match sled::Config::new().path(dir).open() {
            Ok(db) => {
                if warned {
                    tracing::info!(
                        data_dir = %dir.display(),
                        waited_ms = started.elapsed().as_millis(),
                        "the previous owner released the data directory"
                    );
                }
                return Ok(db);
            }
            Err(e) if is_lock_error(&e) => {
                if started.elapsed() >= LOCK_WAIT {
                    return Err(Error::config(
                        "data_dir",
                        format!(
                            "{} is in use by another process (still locked after waiting {} s \
                             for it to exit), and sled allows one owner per directory; stop \
                             the other process or give each one its own data_dir",
                            dir.display(),
                            LOCK_WAIT.as_secs()
                        ),
                    ));
                }
                if !warned {
                    warned = true;
                    tracing::warn!(
                        data_dir = %dir.display(),
                        wait_s = LOCK_WAIT.as_secs(),
                        "the data directory is locked by another process; waiting for it to exit"
                    );
                }
                std::thread::sleep(LOCK_RETRY);
            }
            Err(e) => {
                return Err(Error::backend(
                    NAME,
                    format!("cannot open the sled database in {}: {e}", dir.display()),
                ));
            }
        }
    }
}

/// sled reports a held directory lock only as an I/O error with this text.
fn is_lock_error(e: &sled::Error) -> bool {
    e.to_string().contains("could not acquire lock")
}

/// Creates the directory owner-only (0700) when it does not exist, so session files are not
/// readable by other local users whatever the umask.
fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| Error::config("data_dir", format!("cannot create {}: {e}", dir.display())))
}
