//! The directory lock across processes: an open waits for a previous owner that is exiting
//! (as a process just killed does, while the kernel tears it down), and still refuses, with
//! a message saying so, a directory whose owner stays.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use session_core::{Clock, Error, ProviderContext, RawStore, SessionId, SystemClock, Write};
use session_ledis::LedisStore;

/// A store from a config string, as the registry would open it.
async fn open(config: &str) -> session_core::Result<LedisStore> {
    let ctx = ProviderContext {
        clock: Arc::new(SystemClock),
        max_record_size: 64 * 1024,
        max_lifetime_ms: 3_600_000,
    };
    LedisStore::open(config.parse()?, &ctx).await
}

const HOLDER_DIR: &str = "SESSION_LEDIS_HOLDER_DIR";
const HOLD_MS: &str = "SESSION_LEDIS_HOLD_MS";

/// The child's side: opens the store, writes one session, prints its ID, then keeps the
/// directory for `HOLD_MS` milliseconds (forever when unset) and exits without closing it.
async fn hold(dir: &str) -> ! {
    let store = open(dir).await.unwrap();
    let id = SessionId::generate(32).unwrap();
    let record = Write {
        body: b"kept",
        expires_at: SystemClock.now() + 60_000,
        ttl_ms: 60_000,
        owner: None,
    };
    store.insert(&id, record).await.unwrap();
    println!("holding {}", id.as_str());
    match std::env::var(HOLD_MS).ok().and_then(|ms| ms.parse().ok()) {
        Some(ms) => std::thread::sleep(Duration::from_millis(ms)),
        None => std::thread::sleep(Duration::MAX),
    }
    // No destructors: the lock goes with the process, as after a crash.
    std::process::exit(0)
}

/// Kills the holder if the test fails first.
struct Holder(Child);

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A directory held by a child process, and the ID of the session the child wrote.
struct Held {
    _dir: tempfile::TempDir,
    data_dir: String,
    holder: Holder,
    id: SessionId,
}

/// In the child (this test binary started again by `test`): holds the directory and never
/// returns. In the test: starts that child, holding for `hold_ms` (forever when `None`).
async fn held_directory(test: &str, hold_ms: Option<u64>) -> Held {
    if let Ok(dir) = std::env::var(HOLDER_DIR) {
        hold(&dir).await;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("s").display().to_string();
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(HOLDER_DIR, &dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(ms) = hold_ms {
        command.env(HOLD_MS, ms.to_string());
    }
    let mut holder = Holder(command.spawn().unwrap());
    let stdout = holder.0.stdout.take().unwrap();
    let id = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        // The harness's "test NAME ... " may start the line.
        .find_map(|l| l.split("holding ").nth(1).map(str::to_owned))
        .expect("the holder opened the store");
    Held {
        _dir: tmp,
        data_dir: dir,
        holder,
        id: SessionId::parse_any(&id).unwrap(),
    }
}

#[tokio::test]
async fn an_open_waits_for_the_previous_owner_to_exit() {
    let held = held_directory("an_open_waits_for_the_previous_owner_to_exit", Some(1_000)).await;
    let started = Instant::now();
    let store = open(&held.data_dir)
        .await
        .expect("the open outlasts the previous owner");
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "the directory was not held: the test tested nothing"
    );
    assert_eq!(
        &store.read(&held.id).await.unwrap().unwrap().body[..],
        b"kept"
    );
}

#[tokio::test]
async fn a_directory_whose_owner_stays_is_refused_after_the_wait() {
    let mut held = held_directory(
        "a_directory_whose_owner_stays_is_refused_after_the_wait",
        None,
    )
    .await;
    let started = Instant::now();
    match open(&held.data_dir).await {
        Err(Error::Config { field, message }) => {
            assert_eq!(field, "data_dir");
            assert!(
                message.contains("is in use by another process"),
                "{message}"
            );
        }
        Err(other) => panic!("expected a config error, got {other}"),
        Ok(_) => panic!("two processes opened one directory"),
    }
    assert!(started.elapsed() >= Duration::from_secs(4), "gave up early");
    // Once the owner is gone (killed: nothing closed cleanly), the directory opens with its
    // data.
    held.holder.0.kill().unwrap();
    let store = open(&held.data_dir).await.unwrap();
    assert_eq!(
        &store.read(&held.id).await.unwrap().unwrap().body[..],
        b"kept"
    );
}
