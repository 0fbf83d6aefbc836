//! Crash safety: a writer process is SIGKILLed again and again in the middle of saves; every
//! session file left behind must hold a whole record (the old version or the new one, never
//! a torn one), and GC must collect the orphaned temporary files.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use session_core::{Clock, Manager, Options, ProviderContext, RawStore, SystemClock};
use session_file::{FileConfig, FileStore};

const CHILD_ENV: &str = "SESSION_FILE_CRASH_CHILD";
const SESSIONS: usize = 8;
const FILLER: usize = 4096;

async fn manager(root: &Path) -> (Manager, Arc<FileStore>) {
    let options = Options {
        max_lifetime: Some(Duration::from_secs(3600)),
        ..Options::default()
    };
    let ctx = ProviderContext {
        clock: Arc::new(SystemClock),
        max_record_size: options.max_record_size,
        max_lifetime_ms: 3_600_000,
    };
    let store = Arc::new(FileStore::open(FileConfig::new(root), &ctx).await.unwrap());
    let manager = Manager::with_store(options, store.clone(), Arc::new(SystemClock)).unwrap();
    (manager, store)
}

fn cookie(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

/// The child: rewrites every session forever; each save stores a generation number and a
/// filler made of that number, so a torn record is detectable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child_writer() {
    let Ok(root) = std::env::var(CHILD_ENV) else {
        return; // only meaningful when started by `killed_writers_leave_whole_records`
    };
    let root = Path::new(&root);
    let (m, _) = manager(root).await;
    let cookies: Vec<String> = std::fs::read_to_string(root.join("cookies"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let start: u64 = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    for generation in start.. {
        for c in &cookies {
            let s = m.load([c.as_str()]);
            s.set("generation", &generation).await.unwrap();
            s.set("filler", &generation.to_string().repeat(FILLER / 16))
                .await
                .unwrap();
            s.commit().await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_writers_leave_whole_records() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sessions");
    let (m, store) = manager(&root).await;
    let mut cookies = Vec::new();
    for _ in 0..SESSIONS {
        let s = m.load([]);
        s.set("generation", &0u64).await.unwrap();
        s.set("filler", &"0".repeat(FILLER / 16)).await.unwrap();
        cookies.push(cookie(&s.commit().await.unwrap().set_cookie.unwrap()));
    }
    std::fs::write(root.join("cookies"), cookies.join("\n")).unwrap();

    let exe = std::env::current_exe().unwrap();
    let mut advanced = false;
    for round in 0..15u64 {
        let mut child = Command::new(&exe)
            .args(["crash_child_writer", "--exact", "--nocapture"])
            .env(CHILD_ENV, &root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Let it get into its save loop, at a different point each round.
        tokio::time::sleep(Duration::from_millis(150 + 37 * round)).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        for c in &cookies {
            let s = m.load([c.as_str()]);
            let generation: Option<u64> = s.get("generation").await.unwrap();
            let filler: Option<String> = s.get("filler").await.unwrap();
            let generation =
                generation.unwrap_or_else(|| panic!("round {round}: a session was lost or torn"));
            advanced |= generation != 0;
            assert_eq!(
                filler.as_deref(),
                Some(generation.to_string().repeat(FILLER / 16).as_str()),
                "round {round}: a record mixes two versions"
            );
        }
    }

    assert!(advanced, "the child never saved: the kills tested nothing");

    // Orphaned temporary files (a kill between write and rename) are collected by GC once
    // they are older than the grace period; fresh ones (a write in progress) are kept.
    let mut orphans = Vec::new();
    for entry in walk(&root) {
        if entry
            .file_name()
            .is_some_and(|n| n.to_string_lossy().ends_with(".tmp"))
        {
            orphans.push(entry);
        }
    }
    let planted = root
        .join("0")
        .join("0")
        .join(".00000000000000000000000000000000.0123456789abcdef.tmp");
    std::fs::create_dir_all(planted.parent().unwrap()).unwrap();
    std::fs::write(&planted, b"partial").unwrap();
    orphans.push(planted);
    let old = SystemTime::now() - Duration::from_secs(3600);
    for orphan in &orphans {
        std::fs::File::options()
            .write(true)
            .open(orphan)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    let fresh = root
        .join("0")
        .join("0")
        .join(".00000000000000000000000000000000.fedcba9876543210.tmp");
    std::fs::write(&fresh, b"in progress").unwrap();
    store.gc(SystemClock.now()).await.unwrap();
    for orphan in &orphans {
        assert!(
            !orphan.exists(),
            "GC left an orphaned temp file: {}",
            orphan.display()
        );
    }
    assert!(
        fresh.exists(),
        "GC removed a temp file of a write that may be in progress"
    );
    assert_eq!(m.count().await.unwrap(), SESSIONS as u64);
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}
