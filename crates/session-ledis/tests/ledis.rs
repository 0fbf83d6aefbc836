//! Behaviour specific to the embedded store: config, one owner per directory, durability
//! after repeated `kill -9`, GC over the expiry index, count, namespaces.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use session_core::{
    Clock, Error, Inserted, Manager, Millis, Options, Provider, ProviderContext, RawStore,
    Registry, SessionId, SystemClock, Write,
};
use session_ledis::{LedisProvider, LedisStore};

fn ctx() -> ProviderContext {
    ProviderContext {
        clock: Arc::new(SystemClock),
        max_record_size: 64 * 1024,
        max_lifetime_ms: 3_600_000,
    }
}

/// A store from a config string, as the registry would open it.
async fn open(config: &str) -> session_core::Result<LedisStore> {
    LedisStore::open(config.parse()?, &ctx()).await
}

fn write(body: &[u8], expires_at: Millis) -> Write<'_> {
    Write {
        body,
        expires_at,
        ttl_ms: 60_000,
        owner: None,
    }
}

fn config_error(result: session_core::Result<impl Sized>) -> (String, String) {
    match result {
        Err(Error::Config { field, message }) => (field, message),
        Err(other) => panic!("expected a config error, got {other}"),
        Ok(_) => panic!("expected a config error, got a store"),
    }
}

#[tokio::test]
async fn config_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().display();
    let (field, _) = config_error(
        LedisProvider
            .open(&format!("data_dir={base},db=1,sync=always"), &ctx())
            .await,
    );
    assert_eq!(field, "sync");
    let (field, _) = config_error(
        LedisProvider
            .open(&format!("data_dir={base},db=x"), &ctx())
            .await,
    );
    assert_eq!(field, "db");
    // Both Macaron forms open.
    drop(
        LedisProvider
            .open(&format!("data_dir={base}/a,db=2"), &ctx())
            .await
            .unwrap(),
    );
    drop(
        LedisProvider
            .open(&format!("{base}/b"), &ctx())
            .await
            .unwrap(),
    );
}

#[tokio::test]
async fn a_second_open_of_the_directory_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("data_dir={}", dir.path().join("s").display());
    let first = open(&config).await.unwrap();
    let (field, message) = config_error(open(&config).await);
    assert_eq!(field, "data_dir");
    assert!(message.contains("is in use"), "{message}");
    // Through the registry, as an application would meet it.
    let (field, _) = config_error(LedisProvider.open(&config, &ctx()).await);
    assert_eq!(field, "data_dir");
    drop(first);
    open(&config)
        .await
        .expect("reopen after the first store is gone");
}

#[tokio::test]
async fn data_survives_a_clean_reopen_and_namespaces_are_separate() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().display().to_string();
    let id = SessionId::generate(32).unwrap();
    let far = SystemClock.now() + 3_600_000;
    {
        let store = open(&format!("data_dir={base},db=0")).await.unwrap();
        store.insert(&id, write(b"zero", far)).await.unwrap();
    }
    {
        let other = open(&format!("data_dir={base},db=1")).await.unwrap();
        assert!(
            other.read(&id).await.unwrap().is_none(),
            "db=1 saw db=0's session"
        );
        assert_eq!(other.count(SystemClock.now()).await.unwrap(), 0);
    }
    let store = open(&format!("data_dir={base},db=0")).await.unwrap();
    assert_eq!(&store.read(&id).await.unwrap().unwrap().body[..], b"zero");
    assert_eq!(store.count(SystemClock.now()).await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gc_deletes_the_expired_range_and_keeps_refreshed_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("data_dir={}", dir.path().display());
    let store = Arc::new(open(&config).await.unwrap());
    let t = 1_790_000_000_000;
    let ids: Vec<SessionId> = (0..300).map(|_| SessionId::generate(32).unwrap()).collect();
    for id in &ids {
        assert!(matches!(
            store.insert(id, write(b"x", t + 1_000)).await.unwrap(),
            Inserted::Created(_)
        ));
    }
    // Some are refreshed before GC starts, every other one while a pass runs over the range.
    for id in ids.iter().step_by(2).take(10) {
        assert!(store.touch(id, t + 600_000, 600_000).await.unwrap());
    }
    let gc = tokio::spawn({
        let store = store.clone();
        async move { store.gc(t + 2_000).await }
    });
    let mut refreshed = Vec::new();
    for id in ids.iter().step_by(2) {
        // A touch that loses the race to GC finds no record and reports it.
        if store.touch(id, t + 600_000, 600_000).await.unwrap() {
            refreshed.push(id.clone());
        }
    }
    let first = gc.await.unwrap().unwrap();
    let second = store.gc(t + 2_000).await.unwrap();
    let kept = refreshed.len() as u64;
    assert!(kept >= 10);
    assert_eq!(
        first + second,
        300 - kept,
        "every unrefreshed session is removed"
    );
    for id in &ids {
        assert_eq!(store.exist(id).await.unwrap(), refreshed.contains(id));
    }
    assert_eq!(store.count(t + 2_000).await.unwrap(), kept);
    assert_eq!(
        store.gc(t + 2_000).await.unwrap(),
        0,
        "nothing left in the range"
    );
    // Count subtracts the expired range without waiting for GC.
    assert_eq!(store.count(t + 600_000).await.unwrap(), 0);
    // The counter is rebuilt when the store is reopened.
    drop(Arc::into_inner(store).expect("last reference"));
    let store = open(&config).await.unwrap();
    assert_eq!(store.count(t + 2_000).await.unwrap(), kept);
    assert_eq!(store.gc(t + 600_000).await.unwrap(), kept);
    assert_eq!(store.count(t).await.unwrap(), 0);
}

#[tokio::test]
async fn owner_index_follows_saves_and_destroys() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().display().to_string()).await.unwrap();
    let now = SystemClock.now();
    let id = SessionId::generate(32).unwrap();
    let bound = |owner| Write {
        owner,
        ..write(b"b", now + 60_000)
    };
    let Inserted::Created(v1) = store.insert(&id, bound(Some("alice"))).await.unwrap() else {
        panic!("insert failed");
    };
    assert_eq!(
        store.owner_sessions("alice", now).await.unwrap(),
        vec![id.clone()]
    );
    store.save(&id, v1, bound(Some("bob"))).await.unwrap();
    assert!(store.owner_sessions("alice", now).await.unwrap().is_empty());
    assert_eq!(
        store.owner_sessions("bob", now).await.unwrap(),
        vec![id.clone()]
    );
    assert!(
        store
            .owner_sessions("bob", now + 60_000)
            .await
            .unwrap()
            .is_empty(),
        "expired"
    );
    store.destroy(&id).await.unwrap();
    assert!(store.owner_sessions("bob", now).await.unwrap().is_empty());
}

const CHILD_DIR: &str = "SESSION_LEDIS_WRITER_DIR";
const TEST_NAME: &str = "saves_that_returned_survive_sigkill";

/// Kills the writer if the parent fails first.
struct Writer(Child);

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or_default().to_owned()
}

async fn manager(data_dir: &str) -> Manager {
    let registry = Registry::new().with(LedisProvider).expect("registry");
    let options = Options {
        provider: "ledis".into(),
        provider_config: format!("data_dir={data_dir}"),
        ..Options::default()
    };
    Manager::new(options, &registry).await.expect("manager")
}

/// The child's side: create and update sessions forever, printing each one after its
/// commit returned, until the parent kills the process.
async fn write_until_killed(dir: &str) -> ! {
    let manager = manager(dir).await;
    let mut previous: Option<String> = None;
    for i in 0u64.. {
        let s = manager.load([]);
        s.set("n", &i).await.expect("set");
        let commit = s.commit().await.expect("commit");
        let cookie = cookie_pair(&commit.set_cookie.expect("a new session sets its cookie"));
        println!("created {cookie} {i}");
        if let Some(prev) = previous.replace(cookie) {
            let s = manager.load([prev.as_str()]);
            s.set("next", &i).await.expect("set");
            s.commit().await.expect("commit");
            println!("updated {prev} {i}");
        }
    }
    unreachable!("u64 ran out")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saves_that_returned_survive_sigkill() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        write_until_killed(&dir).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("sessions").display().to_string();
    let exe = std::env::current_exe().unwrap();
    let mut created = Vec::new();
    let mut updated = Vec::new();
    let record =
        |line: String, created: &mut Vec<(String, u64)>, updated: &mut Vec<(String, u64)>| {
            let mut parts = line.split(' ');
            let (kind, cookie, n) = (parts.next(), parts.next(), parts.next());
            if let (Some(kind), Some(cookie), Some(Ok(n))) = (kind, cookie, n.map(str::parse)) {
                match kind {
                    "created" => created.push((cookie.to_owned(), n)),
                    "updated" => updated.push((cookie.to_owned(), n)),
                    _ => {}
                }
            }
        };
    // Several writers in turn on one directory, each killed mid-stream at another point:
    // every crash must leave the store openable, with every returned write in it.
    for round in 0..5usize {
        let mut writer = Writer(
            Command::new(&exe)
                .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
                .env(CHILD_DIR, &data_dir)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("re-run this test binary as the writer"),
        );
        let stdout = writer.0.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let target = created.len() + 20 + 7 * round;
        while created.len() < target {
            let line = lines.next().expect("the writer ended early").unwrap();
            record(line, &mut created, &mut updated);
        }
        writer.0.kill().unwrap(); // SIGKILL: no destructors, no final flush
        writer.0.wait().unwrap();
        // Lines already written to the pipe before the kill are writes that returned, too.
        for line in lines.map_while(Result::ok) {
            record(line, &mut created, &mut updated);
        }
    }
    assert!(!updated.is_empty());

    // Every record is whole: a torn one would not decode and its session would read as new.
    let manager = manager(&data_dir).await;
    for (cookie, n) in &created {
        let s = manager.load([cookie.as_str()]);
        assert_eq!(
            s.get::<u64>("n").await.unwrap(),
            Some(*n),
            "created session {n} lost or torn"
        );
    }
    for (cookie, n) in &updated {
        let s = manager.load([cookie.as_str()]);
        assert_eq!(
            s.get::<u64>("next").await.unwrap(),
            Some(*n),
            "update {n} lost"
        );
    }
    let count = manager.count().await.unwrap();
    assert!(
        count >= created.len() as u64,
        "count {count} < {}",
        created.len()
    );
}
