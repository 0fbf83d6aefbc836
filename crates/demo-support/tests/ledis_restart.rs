//! A ledis demo killed with SIGKILL in the middle of writes and started again at once on the
//! same directory (without waiting for the killed process to be gone, as a shell or a
//! supervisor would) comes up, keeps serving, and still holds every write it acknowledged.
//!
//! `LEDIS_RESTART_ROUNDS` sets the number of kill-and-restart rounds (5 by default; set it
//! to 100 or more for a long run).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{Client, Demo, child_mode, run_child, serve_lines};

const TEST: &str = "a_ledis_demo_restarted_right_after_sigkill_serves_its_data";
const START: Duration = Duration::from_secs(30);
const WRITERS: usize = 4;
/// Sessions read back after each restart (all of them are read once at the end).
const SAMPLE: usize = 300;

/// What a client knows about one session: the value last acknowledged, and the values sent
/// since then whose answer never came (the kill may or may not have let them land).
#[derive(Default)]
struct Known {
    acked: String,
    in_flight: HashSet<String>,
}

type Book = Arc<Mutex<HashMap<String, Known>>>;

fn env(data_dir: &str) -> Vec<(&'static str, String)> {
    vec![
        ("SESSION_PROVIDER", "ledis".to_owned()),
        ("SESSION_PROVIDER_CONFIG", format!("data_dir={data_dir}")),
        ("SESSION_SECURE", "false".to_owned()),
        ("SESSION_DEMO_ADDR", "127.0.0.1:0".to_owned()),
    ]
}

/// One writer: new sessions and updates of its own sessions until `stop`, reconnecting
/// after the server goes away.
fn write(addr: Arc<Mutex<String>>, book: Book, stop: Arc<AtomicBool>, writer: usize) {
    let mut mine: Vec<String> = Vec::new();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let target = addr.lock().unwrap().clone();
        let Ok(mut client) = Client::connect(&target) else {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let value = format!("w{writer}-{n}-{}", "x".repeat((n % 7 * 300) as usize));
            let cookie = if n.is_multiple_of(3) || mine.is_empty() {
                None
            } else {
                Some(mine[(n as usize) % mine.len()].clone())
            };
            if let Some(cookie) = &cookie {
                let mut book = book.lock().unwrap();
                book.get_mut(cookie)
                    .unwrap()
                    .in_flight
                    .insert(value.clone());
            }
            let sent = cookie.as_deref().unwrap_or("-");
            let Ok(answer) = client.call(&format!("PUT {sent} {value}")) else {
                break;
            };
            let Some(cookie) = answer.strip_prefix("OK ") else {
                panic!("a write failed: {answer}");
            };
            if sent == "-" {
                mine.push(cookie.to_owned());
            }
            book.lock().unwrap().insert(
                cookie.to_owned(),
                Known {
                    acked: value,
                    in_flight: HashSet::new(),
                },
            );
        }
    }
}

/// Reads sessions back and checks each holds its acknowledged value or one sent after it; a
/// value found in flight becomes the acknowledged one. With `sample`, about that many
/// sessions, another share each round, so a long run stays linear; without, all of them.
fn check(addr: &str, book: &Book, round: usize, sample: Option<usize>) {
    let mut client = Client::connect(addr).unwrap();
    let mut book = book.lock().unwrap();
    let step = sample.map_or(1, |n| (book.len() / n.max(1)).max(1));
    for (cookie, known) in book.iter_mut().skip(round % step).step_by(step) {
        let answer = client.call(&format!("GET {cookie}")).unwrap();
        let value = answer
            .strip_prefix("VAL ")
            .unwrap_or_else(|| panic!("round {round}: a session was lost: {answer}"));
        if value != known.acked {
            assert!(
                known.in_flight.contains(value),
                "round {round}: a session holds a value never sent to it"
            );
            known.acked = value.to_owned();
            known.in_flight.clear();
        }
    }
}

#[test]
fn a_ledis_demo_restarted_right_after_sigkill_serves_its_data() {
    if child_mode().is_some() {
        let data_dir = std::env::var("LEDIS_DATA_DIR").unwrap();
        run_child(&env(&data_dir), serve_lines);
    }
    let rounds: usize = std::env::var("LEDIS_RESTART_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("sessions").display().to_string();
    let mut child_env = env(&data_dir);
    child_env.push(("LEDIS_DATA_DIR", data_dir.clone()));
    let start = |round: usize| {
        let demo = Demo::start(TEST, "ledis", &child_env);
        let addr = demo.listening_addr(START).unwrap_or_else(|| {
            panic!(
                "round {round}: the restarted demo did not come up\nlog:\n{}\nstderr:\n{}",
                demo.log(),
                demo.stderr()
            )
        });
        (demo, addr)
    };

    let book: Book = Arc::default();
    let (mut demo, first) = start(0);
    let addr = Arc::new(Mutex::new(first));
    for round in 1..=rounds {
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (addr, book, stop) = (addr.clone(), book.clone(), stop.clone());
                std::thread::spawn(move || write(addr, book, stop, w))
            })
            .collect();
        // Kill at a different point of the write stream each round.
        std::thread::sleep(Duration::from_millis(300 + (round as u64 * 137) % 900));
        assert!(demo.is_alive(), "round {round}: died while serving");
        demo.kill();
        // Started while the killed process may still hold the directory and the port.
        let (next, next_addr) = start(round);
        stop.store(true, Ordering::Relaxed);
        for writer in writers {
            writer.join().unwrap();
        }
        drop(std::mem::replace(&mut demo, next));
        *addr.lock().unwrap() = next_addr.clone();
        check(&next_addr, &book, round, Some(SAMPLE));
        // It keeps serving: no late death after recovery.
        std::thread::sleep(Duration::from_secs(1));
        check(&next_addr, &book, round, Some(SAMPLE));
        assert!(
            demo.is_alive(),
            "round {round}: the restarted demo exited\nlog:\n{}\nstderr:\n{}",
            demo.log(),
            demo.stderr()
        );
    }
    assert!(
        book.lock().unwrap().len() > rounds,
        "the writers wrote too little"
    );
    let last = addr.lock().unwrap().clone();
    check(&last, &book, rounds, None);
    demo.signal("TERM");
    assert!(demo.wait(START).is_some_and(|s| s.success()));
    assert!(
        demo.log().contains("session demo stopped"),
        "{}",
        demo.log()
    );
}
