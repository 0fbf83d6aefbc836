//! No demo process ends without its log saying why: a panic in a spawned task, the signal
//! that stopped it (SIGHUP included, which would otherwise kill it without a word), and a
//! start-up failure all leave a line in the log (stdout), not only on stderr.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod support;

use std::time::Duration;

use support::{Client, Demo, child_mode, run_child, serve_lines};

const START: Duration = Duration::from_secs(30);
const PANIC_MESSAGE: &str = "a spawned task failed on purpose";

fn memory_env() -> Vec<(&'static str, String)> {
    vec![
        ("SESSION_PROVIDER", "memory".to_owned()),
        ("SESSION_SECURE", "false".to_owned()),
        ("SESSION_DEMO_ADDR", "127.0.0.1:0".to_owned()),
    ]
}

/// Sends `signal` and checks the demo exits cleanly with a log naming it.
fn stops_on(demo: &mut Demo, signal: &str) {
    demo.signal(signal);
    let status = demo
        .wait(START)
        .unwrap_or_else(|| panic!("SIG{signal} did not end the demo"));
    assert!(status.success(), "{status}");
    let log = demo.log();
    assert!(log.contains(&format!("signal=\"SIG{signal}\"")), "{log}");
    assert!(log.contains("session demo stopped"), "{log}");
}

#[test]
fn a_panic_in_a_spawned_task_is_logged_with_its_location() {
    const TEST: &str = "a_panic_in_a_spawned_task_is_logged_with_its_location";
    if child_mode().is_some() {
        run_child(&memory_env(), |manager, listener| async move {
            tokio::spawn(async { panic!("{PANIC_MESSAGE}") });
            serve_lines(manager, listener).await
        });
    }
    let mut demo = Demo::start(TEST, "panic", &memory_env());
    let line = demo
        .wait_for_log(PANIC_MESSAGE, START)
        .unwrap_or_else(|| panic!("the panic was not logged:\n{}", demo.log()));
    assert!(line.contains("ERROR"), "{line}");
    assert!(line.contains("exit_log.rs:"), "no location: {line}");
    // The server goes on: the runtime keeps a task's panic to its task.
    let addr = demo.listening_addr(START).unwrap();
    let mut client = Client::connect(&addr).unwrap();
    assert!(client.call("PUT - v").unwrap().starts_with("OK "));
    assert!(demo.is_alive());
    stops_on(&mut demo, "TERM");
    assert!(demo.stderr().contains(PANIC_MESSAGE), "{}", demo.stderr());
}

#[test]
fn a_hangup_is_logged_and_ends_the_demo() {
    const TEST: &str = "a_hangup_is_logged_and_ends_the_demo";
    if child_mode().is_some() {
        run_child(&memory_env(), serve_lines);
    }
    let mut demo = Demo::start(TEST, "hangup", &memory_env());
    demo.listening_addr(START)
        .unwrap_or_else(|| panic!("the demo did not start:\n{}", demo.log()));
    stops_on(&mut demo, "HUP");
}

#[test]
fn a_start_up_failure_is_in_the_log() {
    const TEST: &str = "a_start_up_failure_is_in_the_log";
    let env = vec![
        ("SESSION_PROVIDER", "ledis".to_owned()),
        (
            "SESSION_PROVIDER_CONFIG",
            "data_dir=unused,flavour=x".to_owned(),
        ),
        ("SESSION_SECURE", "false".to_owned()),
        ("SESSION_DEMO_ADDR", "127.0.0.1:0".to_owned()),
    ];
    if child_mode().is_some() {
        run_child(&env, serve_lines);
    }
    let mut demo = Demo::start(TEST, "start-up", &env);
    let status = demo.wait(START).expect("a bad config ends the demo");
    assert_eq!(status.code(), Some(1));
    let line = demo
        .wait_for_log("session demo exiting on an error", Duration::ZERO)
        .unwrap_or_else(|| panic!("the failure is not in the log:\n{}", demo.log()));
    assert!(line.contains("ERROR") && line.contains("flavour"), "{line}");
    assert!(demo.stderr().contains("demo: "), "{}", demo.stderr());
}
