//! Tests running at once in one process, half of them leaking through plain
//! std calls: each leaky test sees exactly its own descriptors and threads,
//! the clean ones nothing.
#![cfg(all(leakwatch_hooks, debug_assertions))]

use std::os::fd::{AsRawFd, IntoRawFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use leakwatch_core::Scope;
use leakwatch_interpose::open_in;

const TESTS: usize = 6;

/// Holds the first tests until as many have done their work as the harness
/// runs at once (or two seconds have passed), so that their opens, leaks
/// and checks overlap.
fn rendezvous() {
    static ARRIVED: AtomicUsize = AtomicUsize::new(0);
    let threads = std::env::var("RUST_TEST_THREADS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    ARRIVED.fetch_add(1, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(2);
    while ARRIVED.load(Ordering::SeqCst) < TESTS.min(threads) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
}

static KEEP_BLOCKED: Mutex<Vec<std::sync::mpsc::Sender<()>>> = Mutex::new(Vec::new());

/// Opens two files and a socket, leaks them and a blocked thread, and
/// returns the leaked descriptors.
fn leak(name: &str) -> Vec<i32> {
    let a = std::fs::File::open("Cargo.toml").unwrap().into_raw_fd();
    let b = std::fs::File::open("src/lib.rs").unwrap().into_raw_fd();
    let c = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .into_raw_fd();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    KEEP_BLOCKED.lock().unwrap().push(tx);
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let _ = rx.recv();
        })
        .unwrap();
    vec![a, b, c]
}

/// The same work, everything closed and joined.
fn clean() {
    let f = std::fs::File::open("Cargo.toml").unwrap();
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    assert!(f.as_raw_fd() >= 0 && s.as_raw_fd() >= 0);
    std::thread::spawn(|| ()).join().unwrap();
}

fn leaky_test(name: &str) {
    let scope = Scope::new(name);
    let mut fds = scope.run(|| leak(name));
    rendezvous();
    let open = open_in(&[scope.id()]);
    let mut seen: Vec<_> = open.fds.iter().map(|f| f.fd).collect();
    seen.sort();
    fds.sort();
    assert_eq!(seen, fds, "{name}: {open:?}");
    assert_eq!(open.threads.len(), 1, "{name}: {open:?}");
    assert!(open.children.is_empty());
}

fn clean_test(name: &str) {
    let scope = Scope::new(name);
    scope.run(clean);
    rendezvous();
    let open = open_in(&[scope.id()]);
    assert!(open.is_empty(), "{name}: {open:?}");
}

#[test]
fn leaky_a() {
    leaky_test("leaky_a");
}

#[test]
fn leaky_b() {
    leaky_test("leaky_b");
}

#[test]
fn leaky_c() {
    leaky_test("leaky_c");
}

#[test]
fn clean_a() {
    clean_test("clean_a");
}

#[test]
fn clean_b() {
    clean_test("clean_b");
}

#[test]
fn clean_c() {
    clean_test("clean_c");
}
