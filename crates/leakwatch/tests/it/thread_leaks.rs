//! Threads as tracked items: one still running at the check is a leak,
//! reported with its name and spawn site after the grace period; one that
//! finishes within the grace, or was joined, is not.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::only_group;
use leakwatch::Scope;
use leakwatch::integration::Finding;

#[test]
fn thread_blocked_forever_is_reported_with_its_name_and_site() {
    let scope = Scope::new("stuck");
    let (release, blocked) = mpsc::channel::<()>();
    let (handle, line) = scope.run(|| {
        let builder = leakwatch::thread::Builder::new().name("stuck-worker".into());
        // A consumer waiting on a channel that nobody closes (until below).
        let (handle, line) = (builder.spawn(move || blocked.recv()).unwrap(), line!());
        (handle, line)
    });
    let started = Instant::now();
    let report = scope.check_within(Duration::from_millis(50)).unwrap_err();
    assert!(
        started.elapsed() >= Duration::from_millis(50),
        "it waited the grace"
    );
    let group = only_group(&report, "thread", Finding::StillOpen, line);
    assert_eq!(group.details(), ["'stuck-worker'"]);
    assert!(
        report.to_string().contains("1 thread still open"),
        "{report}"
    );

    drop(release);
    handle.join().unwrap().unwrap_err();
    scope.check_now().unwrap();
}

#[test]
fn thread_that_finishes_within_the_grace_passes() {
    let scope = Scope::new("finishing");
    // Not joined: it ends on its own 30 ms later, well within 10 s even on a
    // loaded machine.
    scope.run(|| {
        drop(leakwatch::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(30))
        }))
    });
    scope.check_within(Duration::from_secs(10)).unwrap();
}

#[test]
fn joined_threads_pass_at_once() {
    let scope = Scope::new("joined");
    scope.run(|| {
        let handles: Vec<_> = (0..4)
            .map(|i| leakwatch::thread::spawn(move || i * 2))
            .collect();
        let sum: i32 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(sum, 12);
    });
    scope.check_now().unwrap();
}

#[test]
fn unnamed_threads_say_so() {
    let scope = Scope::new("unnamed");
    let (release, blocked) = mpsc::channel::<()>();
    let handle = scope.run(|| leakwatch::thread::spawn(move || blocked.recv()));
    let report = scope.check_now().unwrap_err();
    assert_eq!(report.groups()[0].details(), ["unnamed"]);
    drop(release);
    handle.join().unwrap().unwrap_err();
}

#[leakwatch::test(grace = "20ms")]
#[ignore = "fails on purpose: run by a parent test in a child process"]
fn detached_thread_that_never_ends_fails_the_test() {
    // Sleeps well past the test; the process ends without it.
    leakwatch::thread::spawn(|| std::thread::sleep(Duration::from_secs(600)));
}

#[test]
fn a_test_leaving_a_thread_running_fails() {
    crate::support::child::fails_with(
        module_path!(),
        file!(),
        "detached_thread_that_never_ends_fails_the_test",
        "1 thread still open, spawned at crates/leakwatch/tests/it/thread_leaks.rs:",
    );
}

#[leakwatch::test(grace = "20ms", ignore = "name:metrics-flusher")]
fn ignored_background_thread_passes() {
    let builder = leakwatch::thread::Builder::new().name("metrics-flusher".into());
    // Known background work, left running on purpose.
    builder
        .spawn(|| std::thread::sleep(Duration::from_secs(600)))
        .unwrap();
}
