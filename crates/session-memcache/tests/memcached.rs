//! Behaviour specific to memcached: key rules, long lifetimes, item size, GC, outages.

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use memcache::exp::Meta;
use session_core::{
    Error, Inserted, Manager, Options, Provider, ProviderContext, RawStore, Registry, Saved,
    SessionId, SystemClock, Write,
};
use session_memcache::MemcacheProvider;

const DAY_MS: i64 = 24 * 3600 * 1000;

fn now_ms() -> i64 {
    use session_core::Clock;
    SystemClock.now()
}

fn ctx(max_record_size: usize) -> ProviderContext {
    ProviderContext {
        clock: Arc::new(SystemClock),
        max_record_size,
        max_lifetime_ms: 3_600_000,
    }
}

fn write(body: &[u8], ttl_ms: i64) -> Write<'_> {
    Write {
        body,
        expires_at: now_ms() + ttl_ms,
        ttl_ms,
        owner: None,
    }
}

fn config_field(result: session_core::Result<Arc<dyn RawStore>>) -> String {
    match result {
        Err(Error::Config { field, .. }) => field,
        Err(other) => panic!("expected a config error, got {other}"),
        Ok(_) => panic!("expected a config error, got a store"),
    }
}

#[tokio::test]
async fn config_errors_name_the_key() {
    let open = |c: &'static str| async move { MemcacheProvider.open(c, &ctx(1024)).await };
    assert_eq!(
        config_field(open("127.0.0.1:11211;pool_size=3").await),
        "pool_size"
    );
    assert_eq!(
        config_field(open("memcache://127.0.0.1:11211?db=1").await),
        "db"
    );
    assert_eq!(config_field(open("prefix=bad prefix").await), "prefix");
    // A record limit memcached cannot hold is refused up front.
    let big = MemcacheProvider
        .open("127.0.0.1:11211", &ctx(2 * 1024 * 1024))
        .await;
    assert_eq!(config_field(big), "max_item_size");
}

#[tokio::test]
async fn keys_are_prefixed_and_within_memcached_rules() {
    let store = common::store("keys").await;
    let id = SessionId::generate(128).unwrap();
    let key = store.key(&id);
    assert!(key.starts_with(store.prefix()));
    assert!(key.len() <= 250);
    assert!(key.bytes().all(|b| (0x21..=0x7e).contains(&b)));
    assert!(matches!(
        store.insert(&id, write(b"x", 60_000)).await.unwrap(),
        Inserted::Created(_)
    ));
    // The item is where the key says, so other tools sharing the server can find it.
    let raw = store.client().get(&key).send().await.unwrap();
    assert!(raw.hit());
}

#[tokio::test]
async fn lifetimes_over_30_days_do_not_expire_at_once() {
    let store = common::store("ttl").await;
    let id = SessionId::generate(32).unwrap();
    store
        .insert(&id, write(b"remember me", 60 * DAY_MS))
        .await
        .unwrap();
    // Sent as a relative 60-day TTL, memcached would read it as a 1970 timestamp and the
    // item would be gone already.
    let stored = store
        .read(&id)
        .await
        .unwrap()
        .expect("a 60-day session is stored");
    assert_eq!(&stored.body[..], b"remember me");
    let meta = store
        .client()
        .get(store.key(&id))
        .meta(Meta::NONE.ttl())
        .send()
        .await
        .unwrap();
    let ttl = meta.item.ttl.expect("ttl");
    assert!(ttl > 59 * 24 * 3600, "remaining ttl {ttl} s");
    // A touch to 90 days keeps it, too.
    assert!(
        store
            .touch(&id, now_ms() + 90 * DAY_MS, 90 * DAY_MS)
            .await
            .unwrap()
    );
    assert!(store.exist(&id).await.unwrap());
}

#[tokio::test]
async fn oversized_values_are_a_typed_error_and_nothing_is_stored() {
    let store = common::store("big").await;
    let body = vec![7u8; 2 * 1024 * 1024];
    let id = SessionId::generate(32).unwrap();
    let err = store.insert(&id, write(&body, 60_000)).await.unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    assert!(!store.exist(&id).await.unwrap());

    let Inserted::Created(v) = store.insert(&id, write(b"small", 60_000)).await.unwrap() else {
        panic!("insert failed");
    };
    // The largest body the client-side check lets through is accepted by the server (the
    // check is not looser than memcached's own limit), one byte more is refused.
    let key_len = store.key(&id).len();
    let max_body = store.max_item_size() - key_len - 64 - 11;
    let fits = store
        .save(&id, v, write(&body[..max_body], 60_000))
        .await
        .unwrap();
    let Saved::Saved(v) = fits else {
        panic!("a body at the limit was not saved: {fits:?}");
    };
    assert_eq!(store.read(&id).await.unwrap().unwrap().body.len(), max_body);
    let err = store
        .save(&id, v, write(&body[..max_body + 1], 60_000))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    let err = store.save(&id, v, write(&body, 60_000)).await.unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    // The old record is intact, not truncated.
    assert_eq!(store.read(&id).await.unwrap().unwrap().body.len(), max_body);
    assert!(matches!(
        store.save(&id, v, write(b"fits", 60_000)).await.unwrap(),
        Saved::Saved(_)
    ));
}

#[tokio::test]
async fn gc_only_touches_its_own_prefix() {
    let mine = common::store("gcmine").await;
    let theirs = common::store("gctheirs").await;
    let a = SessionId::generate(32).unwrap();
    let b = SessionId::generate(32).unwrap();
    // Expired by core's clock, still alive in memcached.
    let expired = Write {
        body: b"x",
        expires_at: now_ms() - 1,
        ttl_ms: 60_000,
        owner: None,
    };
    mine.insert(&a, expired).await.unwrap();
    theirs.insert(&b, expired).await.unwrap();
    assert_eq!(mine.gc(now_ms()).await.unwrap(), 1);
    assert!(!mine.exist(&a).await.unwrap());
    assert!(theirs.exist(&b).await.unwrap());
    assert_eq!(theirs.gc(now_ms()).await.unwrap(), 1);
}

#[tokio::test]
async fn count_and_owner_index_are_unsupported() {
    let store = common::store("count").await;
    assert!(store.count(now_ms()).await.unwrap_err().is_unsupported());
    assert!(
        store
            .owner_sessions("alice", now_ms())
            .await
            .unwrap_err()
            .is_unsupported()
    );
}

/// A private memcached, killed when dropped.
struct Server {
    port: u16,
    child: Option<Child>,
}

impl Server {
    // The child is reaped in `kill`, which `Drop` calls on every path.
    #[allow(clippy::zombie_processes)]
    fn start(port: u16) -> Server {
        let child = Command::new("memcached")
            .args([
                "-l",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "0",
                "-u",
                "root",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run memcached ({e}); install it with `apt-get install -y memcached`")
            });
        // Wait (bounded) until it accepts connections.
        for _ in 0..400 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Server {
                    port,
                    child: Some(child),
                };
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let mut server = Server {
            port,
            child: Some(child),
        };
        server.kill();
        panic!("memcached on port {port} did not start");
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free local port")
        .port()
}

fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outage_gives_backend_errors_and_the_manager_recovers() {
    let mut server = Server::start(free_port());
    let registry = Registry::new().with(MemcacheProvider).unwrap();
    let options = Options {
        provider: "memcache".into(),
        provider_config: format!("127.0.0.1:{};timeout_ms=500", server.port),
        ..Options::default()
    };
    let manager = Manager::new(options, &registry).await.unwrap();

    let s = manager.load([]);
    s.set("user", "gopher").await.unwrap();
    let cookie = cookie_pair(&s.commit().await.unwrap().set_cookie.unwrap());

    // Requests keep running on the session while the server dies under them.
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for w in 0..4 {
        let (manager, cookie) = (manager.clone(), cookie.clone());
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        workers.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                let s = manager.load([cookie.as_str()]);
                let result = async {
                    s.get::<String>("user").await?;
                    s.set(&format!("w{w}"), &i).await?;
                    Ok::<_, Error>(())
                }
                .await;
                let commit = s.commit().await;
                match (result, commit) {
                    (Ok(()), Ok(commit)) => {
                        assert_eq!(commit.set_cookie, None, "a save replaced the cookie");
                        ok.fetch_add(1, Ordering::SeqCst);
                    }
                    (Err(e), _) | (Ok(()), Err(e)) => {
                        assert!(
                            matches!(e, Error::Backend { .. }),
                            "an outage surfaced as {e:?}, not Error::Backend"
                        );
                        failed.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        }));
    }
    while ok.load(Ordering::SeqCst) < 20 {
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill();
    while failed.load(Ordering::SeqCst) < 20 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }

    // While down: a typed backend error, and commit sends no cookie (the adapter answers 503
    // and the browser keeps its ID).
    let s = manager.load([cookie.as_str()]);
    let err = s.get::<String>("user").await.unwrap_err();
    assert!(
        err.is_backend() && matches!(err, Error::Backend { .. }),
        "{err:?}"
    );
    assert!(s.commit().await.is_err());

    // Back on the same port, the same manager works again. memcached lost its data, so the
    // old session is simply unknown: a fresh ID, not an error.
    let _server = Server::start(server.port);
    let s = manager.load([cookie.as_str()]);
    assert_eq!(s.get::<String>("user").await.unwrap(), None);
    s.set("user", "again").await.unwrap();
    let set = s.commit().await.unwrap().set_cookie.expect("a new cookie");
    let new_cookie = cookie_pair(&set);
    assert_ne!(new_cookie, cookie);
    let s = manager.load([new_cookie.as_str()]);
    assert_eq!(
        s.get::<String>("user").await.unwrap().as_deref(),
        Some("again")
    );
    s.commit().await.unwrap();
}
