//! The demo app over a real Redis server that is really stopped (SIGKILL) and restarted on
//! the same port, driven over HTTP by the shared scenarios `outage` and `degraded`:
//!
//! - while Redis is down, `/public` (under the `anonymous` outage policy) answers 200 as to a
//!   visitor, again and again, with and without the session cookie; a write there is refused
//!   (503, core's refused-write message); the routes under `fail` answer 503;
//! - no reply sets, rewrites or removes a cookie, from sign-in to the end: the client keeps
//!   the one it got at sign-in;
//! - after the restart the same cookie finds its session **with its data**: the server runs
//!   with an append-only file synced on every write (`--appendonly yes --appendfsync
//!   always`), so a restart keeps what was stored before the kill, and the scenarios check
//!   the signed-in greeting, a stored value and the queued flash messages; the refused write
//!   left nothing behind, and writes work again.

// Test helpers outside #[test] functions panic on failure too: that is the point.
#![allow(clippy::unwrap_used)]

mod demo;

use demo::serve;
use std::sync::{Arc, Mutex};

use http_scenarios::{Outcome, Target};
use session_core::{Manager, Options, Registry};
use session_redis::RedisProvider;
use session_redis::testing::server::RedisServer;
use session_redis::testing::unique_prefix;

/// The outage switch over a real server: "down" kills it, "up" restarts it on the same port
/// and directory. The suite also calls "up" after every scenario, which must then do nothing.
struct Switch {
    server: RedisServer,
    down: bool,
}

impl Switch {
    fn set(&mut self, down: bool) {
        match (self.down, down) {
            (false, true) => self.server.kill(),
            (true, false) => self
                .server
                .restart()
                .unwrap_or_else(|e| panic!("cannot restart redis-server: {e}")),
            _ => {}
        }
        self.down = down;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn public_page_serves_through_a_redis_stop_and_restart() {
    let server = RedisServer::start_with(&[
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ])
    .unwrap();
    let registry = Registry::new().with(RedisProvider).unwrap();
    let options = Options {
        provider: "redis".into(),
        provider_config: format!("addr={},prefix={}", server.addr(), unique_prefix().unwrap()),
        ..Options::default()
    };
    let manager = Manager::new(options.clone(), &registry).await.unwrap();
    let switch = Arc::new(Mutex::new(Switch {
        server,
        down: false,
    }));
    let target = Target::for_options(serve(manager).await, &options)
        .with_outage(move |down| switch.lock().unwrap().set(down));

    let report = http_scenarios::run_only(&target, |name| {
        name.starts_with("anonymous page") || name.starts_with("backend outage")
    })
    .await;
    println!("{report}");
    assert_eq!(report.scenarios.len(), 2, "{report}");
    assert!(
        report
            .scenarios
            .iter()
            .all(|s| s.outcome == Outcome::Passed),
        "{report}"
    );
}
