//! No raw session ID in any log line: all tracing output at TRACE level across login,
//! regenerate, logout, an unknown ID and GC is captured and searched.
//!
//! Alone in its test binary: tracing caches per-callsite interest process-wide, so a test
//! running on another thread without the capturing subscriber could hide events from it.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::io::Write as _;
use std::sync::{Arc, Mutex};

use session_core::{Manager, MockClock, Options, SessionId};
use session_memory::MemoryStore;

fn manager(options: Options) -> (Manager, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::default());
    let manager =
        Manager::with_store(options, store.clone(), Arc::new(MockClock::default())).unwrap();
    (manager, store)
}

fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

async fn create(m: &Manager) -> String {
    let s = m.load([]);
    s.set("uid", "alice").await.unwrap();
    pair(&s.commit().await.unwrap().set_cookie.unwrap())
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_raw_id_in_trace_output() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (m, _) = manager(Options::default());
    let mut raw_ids = Vec::new();
    // Login: a session, then regenerate; logout: destroy; plus an unknown and a corrupt ID.
    let cookie = create(&m).await;
    raw_ids.push(cookie.split_once('=').unwrap().1.to_owned());
    let s = m.load([cookie.as_str()]);
    s.regenerate().await.unwrap();
    let cookie = pair(&s.commit().await.unwrap().set_cookie.unwrap());
    raw_ids.push(cookie.split_once('=').unwrap().1.to_owned());
    let s = m.load([cookie.as_str()]);
    s.set("k", "v").await.unwrap();
    s.commit().await.unwrap();
    let s = m.load([cookie.as_str()]);
    s.destroy().await.unwrap();
    s.commit().await.unwrap();
    let unknown = SessionId::generate(32).unwrap();
    raw_ids.push(unknown.as_str().to_owned());
    let header = format!("MacaronSession={}", unknown.as_str());
    m.load([header.as_str()]).get::<String>("x").await.unwrap();
    m.gc().await.unwrap();

    let mut out = capture.0.lock().unwrap().clone();
    out.flush().unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("session.load"),
        "no trace output captured:\n{text}"
    );
    for raw in raw_ids {
        assert!(!text.contains(&raw), "a raw session ID was logged:\n{text}");
    }
}
