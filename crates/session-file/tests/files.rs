//! What the file provider does on disk: modes, symlink refusal, corrupt files, orphaned
//! temporary files, stale owner markers, several stores sharing one directory, and config
//! errors.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use session_core::{
    Error, Inserted, Manager, Options, Provider, ProviderContext, RawStore, Saved, SessionId,
    SystemClock, Version, Write,
};
use session_file::{FileConfig, FileProvider, FileStore};
use sha2::{Digest, Sha256};

const LIMIT: usize = 64 * 1024;
/// Far enough in the future that nothing here expires by accident.
const LATER: i64 = 4_000_000_000_000;

fn new_id() -> SessionId {
    SessionId::generate(32).unwrap()
}

fn write<'a>(body: &'a [u8], expires_at: i64, owner: Option<&'a str>) -> Write<'a> {
    Write {
        body,
        expires_at,
        ttl_ms: 60_000,
        owner,
    }
}

/// `root/x/y`, as the crate docs describe the layout.
fn shard(root: &Path, id: &SessionId) -> PathBuf {
    let s = id.as_str();
    root.join(&s[0..1]).join(&s[1..2])
}

fn session_path(root: &Path, id: &SessionId) -> PathBuf {
    shard(root, id).join(id.as_str())
}

fn owner_dir(root: &Path, owner: &str) -> PathBuf {
    root.join("owners")
        .join(hex::encode(Sha256::digest(owner.as_bytes())))
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

async fn open(root: &Path) -> FileStore {
    FileStore::open(FileConfig::new(root), &ctx())
        .await
        .unwrap()
}

fn ctx() -> ProviderContext {
    ProviderContext {
        clock: Arc::new(SystemClock),
        max_record_size: LIMIT,
        max_lifetime_ms: 3_600_000,
    }
}

fn is_backend<T: std::fmt::Debug>(result: session_core::Result<T>) -> bool {
    matches!(result, Err(Error::Backend { .. }))
}

fn age(path: &Path, by: Duration) {
    let file = fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - by).unwrap();
}

#[tokio::test]
async fn directories_are_0700_and_files_0600() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("a/b/sessions");
    let store = open(&root).await;
    let id = new_id();
    store
        .insert(&id, write(b"body", LATER, Some("alice")))
        .await
        .unwrap();

    assert_eq!(mode(&root), 0o700, "root");
    assert_eq!(
        mode(&dir.path().join("a")),
        0o700,
        "created parent of the root"
    );
    let y = shard(&root, &id);
    assert_eq!(mode(y.parent().unwrap()), 0o700, "x directory");
    assert_eq!(mode(&y), 0o700, "y directory");
    assert_eq!(mode(&session_path(&root, &id)), 0o600, "session file");
    assert_eq!(mode(&y.join(".lock")), 0o600, "lock file");
    assert_eq!(mode(&root.join("owners")), 0o700, "owner index");
    let owners = owner_dir(&root, "alice");
    assert_eq!(mode(&owners), 0o700, "owner directory");
    assert_eq!(mode(&owners.join(id.as_str())), 0o600, "owner marker");

    // Saves and touches replace the file through a new temporary file: same mode, no
    // temporary file left behind.
    let version = store.read(&id).await.unwrap().unwrap().version;
    store
        .save(&id, version, write(b"new", LATER, Some("alice")))
        .await
        .unwrap();
    store.touch(&id, LATER + 1, 1).await.unwrap();
    assert_eq!(mode(&session_path(&root, &id)), 0o600, "rewritten file");
    let names: Vec<String> = fs::read_dir(&y)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names.iter().all(|n| !n.ends_with(".tmp")),
        "temporary files left: {names:?}"
    );

    // The documented header: magic, then the format byte.
    let bytes = fs::read(session_path(&root, &id)).unwrap();
    assert_eq!(&bytes[..5], b"RSSF\x01");
    assert!(bytes.ends_with(b"new"));
}

#[tokio::test]
async fn symlinked_session_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sessions");
    let store = open(&root).await;

    // A perfectly valid session file elsewhere (say, an upload), symlinked into the tree:
    // it must not be read as a session.
    let elsewhere = dir.path().join("elsewhere");
    let forger = open(&elsewhere).await;
    let planted = new_id();
    forger
        .insert(&planted, write(b"forged", LATER, None))
        .await
        .unwrap();
    let id = new_id();
    fs::create_dir_all(shard(&root, &id)).unwrap();
    let target = session_path(&elsewhere, &planted);
    symlink(&target, session_path(&root, &id)).unwrap();

    assert!(is_backend(store.read(&id).await));
    assert!(is_backend(store.exist(&id).await));
    assert!(is_backend(
        store.insert(&id, write(b"x", LATER, None)).await
    ));
    assert!(is_backend(
        store.save(&id, Version(0), write(b"x", LATER, None)).await
    ));
    assert!(is_backend(store.touch(&id, LATER, 1).await));
    assert!(is_backend(store.destroy(&id).await));
    // Nothing was written through the link, and the link is still there.
    assert_eq!(
        &forger.read(&planted).await.unwrap().unwrap().body[..],
        b"forged"
    );
    assert!(
        fs::symlink_metadata(session_path(&root, &id))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[tokio::test]
async fn symlinked_session_directories_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sessions");
    let store = open(&root).await;
    let elsewhere = dir.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();

    // x is a symlink.
    let id = new_id();
    symlink(&elsewhere, root.join(&id.as_str()[0..1])).unwrap();
    assert!(is_backend(store.read(&id).await));
    assert!(is_backend(
        store.insert(&id, write(b"x", LATER, None)).await
    ));
    assert!(is_backend(store.destroy(&id).await));

    // y is a symlink, under a real x.
    let other = loop {
        let other = new_id();
        if other.as_str()[0..1] != id.as_str()[0..1] {
            break other;
        }
    };
    let x = root.join(&other.as_str()[0..1]);
    fs::create_dir(&x).unwrap();
    symlink(&elsewhere, x.join(&other.as_str()[1..2])).unwrap();
    assert!(is_backend(store.read(&other).await));
    assert!(is_backend(
        store.insert(&other, write(b"x", LATER, None)).await
    ));
    assert!(is_backend(store.touch(&other, LATER, 1).await));

    assert_eq!(
        fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "something was written through a symlinked directory"
    );
    // GC skips the symlinks and carries on.
    assert_eq!(store.gc(LATER).await.unwrap(), 0);
}

#[tokio::test]
async fn corrupt_files_read_as_absent_and_are_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sessions");
    let store = open(&root).await;

    let good = new_id();
    store
        .insert(&good, write(b"a valid body", LATER, Some("alice")))
        .await
        .unwrap();
    let valid = fs::read(session_path(&root, &good)).unwrap();

    let mut contents: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"garbage".to_vec(),
        vec![0xff; 4096],
        [valid.as_slice(), b"trailing"].concat(),
    ];
    // Every truncation of a valid file.
    contents.extend((0..valid.len()).map(|n| valid[..n].to_vec()));
    // A header that claims a body far beyond the limit.
    let mut huge = valid.clone();
    huge[26..34].copy_from_slice(&u64::MAX.to_le_bytes());
    contents.push(huge);

    for bytes in &contents {
        let id = new_id();
        fs::create_dir_all(shard(&root, &id)).unwrap();
        fs::write(session_path(&root, &id), bytes).unwrap();
        assert_eq!(store.read(&id).await.unwrap(), None, "{bytes:?}");
        assert!(!store.exist(&id).await.unwrap());
        assert!(!store.touch(&id, LATER, 1).await.unwrap());
        assert_eq!(
            store
                .save(&id, Version(1), write(b"x", LATER, None))
                .await
                .unwrap(),
            Saved::Missing
        );
        // Insert-if-absent replaces the corrupt file.
        assert!(matches!(
            store
                .insert(&id, write(b"fresh", LATER, None))
                .await
                .unwrap(),
            Inserted::Created(_)
        ));
        assert_eq!(&store.read(&id).await.unwrap().unwrap().body[..], b"fresh");
    }

    // Destroying a corrupt file removes it but reports that there was no session.
    let id = new_id();
    fs::create_dir_all(shard(&root, &id)).unwrap();
    fs::write(session_path(&root, &id), b"junk").unwrap();
    assert!(!store.destroy(&id).await.unwrap());
    assert!(!session_path(&root, &id).exists());

    // Only the valid and the replaced sessions count.
    assert_eq!(store.count(0).await.unwrap(), contents.len() as u64 + 1);
}

#[tokio::test]
async fn gc_removes_old_orphans_and_keeps_fresh_ones() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sessions");
    let store = open(&root).await;
    let id = new_id();
    store
        .insert(&id, write(b"live", LATER, None))
        .await
        .unwrap();
    let y = shard(&root, &id);

    let old_temp = y.join(format!(".{}.0011223344556677.tmp", id.as_str()));
    let fresh_temp = y.join(format!(".{}.8899aabbccddeeff.tmp", id.as_str()));
    fs::write(&old_temp, b"half a write").unwrap();
    fs::write(&fresh_temp, b"a write in progress").unwrap();
    age(&old_temp, Duration::from_secs(11 * 60));

    let old_corrupt = new_id();
    let fresh_corrupt = new_id();
    for bad in [&old_corrupt, &fresh_corrupt] {
        fs::create_dir_all(shard(&root, bad)).unwrap();
        fs::write(session_path(&root, bad), b"junk").unwrap();
    }
    age(
        &session_path(&root, &old_corrupt),
        Duration::from_secs(11 * 60),
    );

    assert_eq!(store.gc(1).await.unwrap(), 0, "nothing had expired");
    assert!(!old_temp.exists(), "an orphaned temporary file survived");
    assert!(fresh_temp.exists(), "a fresh temporary file was removed");
    assert!(!session_path(&root, &old_corrupt).exists());
    assert!(session_path(&root, &fresh_corrupt).exists());
    assert_eq!(&store.read(&id).await.unwrap().unwrap().body[..], b"live");
    assert!(y.join(".lock").exists());
}

#[tokio::test]
async fn gc_removes_expired_sessions_and_their_markers() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sessions");
    let store = open(&root).await;
    let expired = new_id();
    let live = new_id();
    store
        .insert(&expired, write(b"old", 1_000, Some("alice")))
        .await
        .unwrap();
    store
        .insert(&live, write(b"new", 3_000, Some("alice")))
        .await
        .unwrap();
    assert_eq!(store.count(1_000).await.unwrap(), 1);
    assert_eq!(store.gc(1_000).await.unwrap(), 1);
    assert!(!store.exist(&expired).await.unwrap());
    assert!(store.exist(&live).await.unwrap());
    assert!(!owner_dir(&root, "alice").join(expired.as_str()).exists());
    assert_eq!(
        store.owner_sessions("alice", 1_000).await.unwrap(),
        vec![live.clone()]
    );
    // The last session of an owner gone, GC removes the owner's directory too.
    assert_eq!(store.gc(5_000).await.unwrap(), 1);
    assert!(!owner_dir(&root, "alice").exists());
}

#[tokio::test]
async fn gc_and_count_accept_a_missing_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sessions");
    let store = open(&root).await;
    fs::remove_dir(&root).unwrap();
    assert_eq!(store.gc(LATER).await.unwrap(), 0);
    assert_eq!(store.count(0).await.unwrap(), 0);
    assert_eq!(store.read(&new_id()).await.unwrap(), None);
}

#[tokio::test]
async fn a_removed_root_is_recreated_on_the_next_insert() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sessions");
    let store = open(&root).await;
    let old = new_id();
    store
        .insert(&old, write(b"old", LATER, None))
        .await
        .unwrap();
    fs::remove_dir_all(&root).unwrap();
    assert_eq!(store.read(&old).await.unwrap(), None);
    let id = new_id();
    assert!(matches!(
        store.insert(&id, write(b"new", LATER, None)).await.unwrap(),
        Inserted::Created(_)
    ));
    assert_eq!(mode(&root), 0o700);
    assert_eq!(&store.read(&id).await.unwrap().unwrap().body[..], b"new");
}

#[tokio::test(flavor = "current_thread")]
async fn a_held_lock_blocks_writers_but_not_readers_or_the_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sessions");
    let store = open(&root).await;
    let id = new_id();
    store
        .insert(&id, write(b"body", LATER, None))
        .await
        .unwrap();

    // Another process holding the directory's lock, as during its read-modify-write.
    let lock = fs::File::options()
        .read(true)
        .write(true)
        .open(shard(&root, &id).join(".lock"))
        .unwrap();
    lock.lock().unwrap();
    let toucher = store.clone();
    let touched_id = id.clone();
    let touch = tokio::spawn(async move { toucher.touch(&touched_id, LATER + 5, 1).await });
    // The runtime has a single thread: if the touch blocked it, nothing below would run.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let stored = store.read(&id).await.unwrap().unwrap();
    assert_eq!(stored.expires_at, LATER, "a write went through a held lock");
    assert!(!touch.is_finished());

    lock.unlock().unwrap();
    assert!(touch.await.unwrap().unwrap());
    let stored = store.read(&id).await.unwrap().unwrap();
    assert_eq!(stored.expires_at, LATER + 5);
    assert_eq!(&stored.body[..], b"body");
}

#[tokio::test]
async fn stale_owner_markers_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sessions");
    let store = open(&root).await;
    let mine = new_id();
    let bobs = new_id();
    store
        .insert(&mine, write(b"a", LATER, Some("alice")))
        .await
        .unwrap();
    store
        .insert(&bobs, write(b"b", LATER, Some("bob")))
        .await
        .unwrap();
    // Markers a crash could leave: one for a session that is gone, one for a session that
    // belongs to someone else.
    let alice = owner_dir(&root, "alice");
    let gone = new_id();
    fs::write(alice.join(gone.as_str()), b"").unwrap();
    fs::write(alice.join(bobs.as_str()), b"").unwrap();

    assert_eq!(
        store.owner_sessions("alice", 0).await.unwrap(),
        vec![mine.clone()]
    );
    assert!(!alice.join(gone.as_str()).exists());
    assert!(!alice.join(bobs.as_str()).exists());
    assert_eq!(
        store.owner_sessions("bob", 0).await.unwrap(),
        vec![bobs.clone()]
    );

    // Rebinding moves the marker.
    let version = store.read(&mine).await.unwrap().unwrap().version;
    store
        .save(&mine, version, write(b"a", LATER, Some("carol")))
        .await
        .unwrap();
    assert!(store.owner_sessions("alice", 0).await.unwrap().is_empty());
    assert_eq!(
        store.owner_sessions("carol", 0).await.unwrap(),
        vec![mine.clone()]
    );
    assert!(store.owner_sessions("nobody", 0).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_sharing_a_directory_lose_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sessions");
    let options = Options {
        provider: "file".into(),
        ..Options::default()
    };
    let mut managers = Vec::new();
    for _ in 0..2 {
        // Two independent stores, as two processes would have.
        let store: Arc<dyn RawStore> = Arc::new(open(&root).await);
        managers.push(Manager::with_store(options.clone(), store, Arc::new(SystemClock)).unwrap());
    }

    let session = managers[0].load([]);
    session.set("seed", "x").await.unwrap();
    let set_cookie = session.commit().await.unwrap().set_cookie.unwrap();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    let mut tasks = Vec::new();
    for i in 0..50 {
        let manager = managers[i % 2].clone();
        let cookie = cookie.clone();
        tasks.push(tokio::spawn(async move {
            let session = manager.load([cookie.as_str()]);
            session.set(&format!("key{i}"), &i).await?;
            session.commit().await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }

    for manager in &managers {
        let session = manager.load([cookie.as_str()]);
        let keys = session.keys().await.unwrap();
        let missing: Vec<usize> = (0..50)
            .filter(|i| !keys.contains(&format!("key{i}")))
            .collect();
        assert!(missing.is_empty(), "lost updates: {missing:?}");
        assert!(keys.contains(&"seed".to_owned()));
        for i in 0..50usize {
            assert_eq!(
                session.get::<usize>(&format!("key{i}")).await.unwrap(),
                Some(i)
            );
        }
    }
    assert_eq!(managers[1].count().await.unwrap(), 1);
}

#[tokio::test]
async fn two_stores_agree_on_insert_if_absent() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sessions");
    let a = open(&root).await;
    let b = open(&root).await;
    let id = new_id();
    let (first, second) = tokio::join!(
        a.insert(&id, write(b"a", LATER, None)),
        b.insert(&id, write(b"b", LATER, None)),
    );
    let created = [first.unwrap(), second.unwrap()]
        .iter()
        .filter(|r| matches!(r, Inserted::Created(_)))
        .count();
    assert_eq!(created, 1, "both stores created the same session");
    let version = a.read(&id).await.unwrap().unwrap().version;
    assert!(matches!(
        b.save(&id, version, write(b"c", LATER, None))
            .await
            .unwrap(),
        Saved::Saved(_)
    ));
    assert_eq!(
        a.save(&id, version, write(b"d", LATER, None))
            .await
            .unwrap(),
        Saved::Conflict
    );
    assert_eq!(&a.read(&id).await.unwrap().unwrap().body[..], b"c");
}

#[tokio::test]
async fn world_writable_root_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("open");
    fs::create_dir(&root).unwrap();
    fs::set_permissions(&root, fs::Permissions::from_mode(0o777)).unwrap();
    let result = FileProvider
        .open(&format!("root={}", root.display()), &ctx())
        .await;
    match result.err() {
        Some(Error::Config { field, message }) => {
            assert_eq!(field, "root");
            assert!(message.contains("world-writable"), "{message}");
        }
        other => panic!("a world-writable root was accepted: {other:?}"),
    }
    // Plain-path form, and a root that is a file.
    let file = dir.path().join("file");
    fs::write(&file, b"").unwrap();
    assert!(matches!(
        FileProvider.open(&file.display().to_string(), &ctx()).await.err(),
        Some(Error::Config { field, .. }) if field == "root"
    ));
    // A private existing root is fine.
    fs::set_permissions(&root, fs::Permissions::from_mode(0o700)).unwrap();
    assert!(
        FileProvider
            .open(&root.display().to_string(), &ctx())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn an_oversized_owner_is_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("sessions");
    let store = open(&root).await;
    let id = new_id();
    let owner = "o".repeat(64 * 1024 + 1);
    assert!(matches!(
        store.insert(&id, write(b"x", LATER, Some(&owner))).await,
        Err(Error::TooLarge { .. })
    ));
    assert!(!store.exist(&id).await.unwrap());
    let owner = "o".repeat(64 * 1024);
    store
        .insert(&id, write(b"x", LATER, Some(&owner)))
        .await
        .unwrap();
    assert_eq!(store.owner_sessions(&owner, 0).await.unwrap(), vec![id]);
}

#[tokio::test]
async fn unknown_config_key_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("root={},colour=blue", dir.path().display());
    match FileProvider.open(&config, &ctx()).await.err() {
        Some(Error::Config { field, .. }) => assert_eq!(field, "colour"),
        other => panic!("unknown key accepted: {other:?}"),
    }
}
