//! `#[leakwatch::test]` on sync and async tests: each of `#[tokio::test]`'s
//! arguments with tokio's meaning, `#[should_panic]` and `Result` tests,
//! `rstest` and `test-case`, and how a leaking test fails.
//!
//! A test that must fail is `#[ignore]`d and run in a child process by
//! [`leaky_tests_fail_at_their_own_line_with_the_report`] and its siblings
//! (see `support::child`). Every such test sets its own grace, and the
//! children run without `LEAKWATCH_GRACE`, so the environment cannot change
//! how long they wait.

#![cfg(feature = "tokio")]

use std::io::Read;
use std::time::Duration;

use leakwatch::Tracked;
use leakwatch::fs::File;
use rstest::rstest;
use test_case::test_case;

use crate::support::child;

/// Spawns a task that opens a connection and never ends; returns once the
/// connection is open.
async fn park_a_connection_in_an_endless_task() {
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let _conn = Tracked::new((), "db-conn");
        started_tx.send(()).unwrap();
        std::future::pending::<()>().await;
    });
    started_rx.await.unwrap();
}

#[leakwatch::test]
fn sync_test_that_closes_everything_passes() {
    let mut text = String::new();
    File::open("Cargo.toml")
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert!(text.contains("leakwatch"));
}

#[leakwatch::test]
fn sync_test_may_return_a_result() -> Result<(), std::io::Error> {
    File::open("Cargo.toml")?;
    Ok(())
}

#[leakwatch::test]
async fn async_test_that_closes_everything_passes() {
    let task = tokio::spawn(async { Tracked::new(1, "conn").into_inner() });
    assert_eq!(task.await.unwrap(), 1);
}

#[leakwatch::test(flavor = "multi_thread")]
async fn multi_thread_clean_test_passes() {
    let handles: Vec<_> = (0..8)
        .map(|i| tokio::spawn(async move { Tracked::new(i, "conn").into_inner() }))
        .collect();
    for h in handles {
        h.await.unwrap();
    }
}

#[leakwatch::test]
async fn async_test_with_io_and_timers_passes() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = tokio::spawn(async move { listener.accept().await.map(|_| ()) });
    let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
    accept.await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(1)).await;
}

// Tasks that end 10 ms after the body: a grace of 10 s leaves a loaded
// machine a thousandfold margin.
#[leakwatch::test(flavor = "multi_thread", worker_threads = 2, grace = "10s")]
async fn untracked_tasks_that_finish_in_the_grace_pass() {
    for _ in 0..4 {
        drop(tokio::spawn(tokio::time::sleep(Duration::from_millis(10))));
    }
}

// ---- tokio's arguments, with tokio's meaning ----

#[leakwatch::test(start_paused = true)]
async fn start_paused_starts_the_clock_paused() {
    let (virtual_start, real_start) = (tokio::time::Instant::now(), std::time::Instant::now());
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert!(virtual_start.elapsed() >= Duration::from_secs(3600));
    assert!(real_start.elapsed() < Duration::from_secs(600));
}

#[leakwatch::test(flavor = "current_thread", start_paused = false)]
async fn start_paused_false_keeps_the_real_clock() {
    let start = std::time::Instant::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(start.elapsed() >= Duration::from_millis(5));
}

#[leakwatch::test(name = "checked-runtime")]
async fn name_names_the_runtime() {
    let handle = tokio::runtime::Handle::current();
    assert_eq!(handle.name(), Some("checked-runtime"));
    assert_eq!(
        handle.runtime_flavor(),
        tokio::runtime::RuntimeFlavor::CurrentThread
    );
}

#[leakwatch::test(flavor = "multi_thread", worker_threads = 3)]
async fn worker_threads_sets_the_workers() {
    let handle = tokio::runtime::Handle::current();
    assert_eq!(handle.metrics().num_workers(), 3);
    assert_eq!(
        handle.runtime_flavor(),
        tokio::runtime::RuntimeFlavor::MultiThread
    );
}

#[leakwatch::test(flavor = "local")]
async fn local_flavor_runs_local_tasks() {
    let shared = std::rc::Rc::new(std::cell::Cell::new(0)); // not Send
    let seen = shared.clone();
    tokio::task::spawn_local(async move { seen.set(1) })
        .await
        .unwrap();
    assert_eq!(shared.get(), 1);
}

#[cfg(tokio_unstable)]
#[leakwatch::test(unhandled_panic = "ignore")]
async fn unhandled_panic_ignore_lets_the_test_go_on() {
    let task = tokio::spawn(async { panic!("a task's own panic") });
    assert!(task.await.unwrap_err().is_panic());
}

#[cfg(tokio_unstable)]
#[leakwatch::test(unhandled_panic = "shutdown_runtime")]
#[should_panic]
async fn unhandled_panic_shutdown_runtime_fails_the_test() {
    drop(tokio::spawn(async { panic!("a task's own panic") }));
    // The runtime shuts down and `block_on` panics, as with #[tokio::test].
    std::future::pending::<()>().await;
}

// ---- #[should_panic] ----

#[leakwatch::test]
#[should_panic(expected = "the test's own panic")]
fn should_panic_test_that_panics_without_leaking_passes() {
    let _file = File::open("Cargo.toml").unwrap();
    panic!("the test's own panic");
}

#[leakwatch::test]
#[should_panic(expected = "the test's own panic")]
async fn async_should_panic_test_that_panics_without_leaking_passes() {
    park_until_closed().await;
    panic!("the test's own panic");
}

/// A task that opens a connection and ends: nothing is left.
async fn park_until_closed() {
    tokio::spawn(async { drop(Tracked::new((), "db-conn")) })
        .await
        .unwrap();
}

// ---- rstest and test-case: put #[leakwatch::test] after their attributes ----

#[rstest]
#[case(1)]
#[case(2)]
#[leakwatch::test]
fn rstest_cases_are_checked(#[case] n: u32) {
    let _file = File::open("Cargo.toml").unwrap();
    assert!(n > 0);
}

#[rstest]
#[case("multi")]
#[leakwatch::test(flavor = "multi_thread")]
async fn rstest_async_cases_are_checked(#[case] name: &str) {
    let task = tokio::spawn(async { Tracked::new(1, "conn").into_inner() });
    assert_eq!(task.await.unwrap(), 1);
    assert_eq!(name, "multi");
}

#[test_case(1)]
#[test_case(2)]
#[leakwatch::test]
fn test_case_cases_are_checked(n: u32) {
    let _file = File::open("Cargo.toml").unwrap();
    assert!(n > 0);
}

#[test_case("a")]
#[leakwatch::test]
async fn test_case_async_cases_are_checked(name: &str) {
    tokio::task::yield_now().await;
    assert_eq!(name, "a");
}

// ---- tests that must fail, run by the parents below ----

#[leakwatch::test(grace = "60ms")]
#[ignore = "fails on purpose: run by a parent test in a child process"]
fn sync_test_that_forgets_a_file_fails() {
    std::mem::forget(File::open("Cargo.toml").unwrap());
}

#[leakwatch::test(grace = "60ms")]
#[ignore = "fails on purpose: run by a parent test in a child process"]
async fn async_test_with_a_task_holding_a_connection_fails() {
    // The check runs before the runtime shuts down, so the task is reported
    // rather than silently cancelled.
    park_a_connection_in_an_endless_task().await;
}

#[leakwatch::test(flavor = "multi_thread", worker_threads = 2, grace = "60ms")]
#[ignore = "fails on purpose: run by a parent test in a child process"]
async fn multi_thread_workers_belong_to_the_test() {
    park_a_connection_in_an_endless_task().await;
}

#[leakwatch::test(flavor = "local", grace = "60ms")]
#[ignore = "fails on purpose: run by a parent test in a child process"]
async fn local_flavor_reports_a_leaked_local_task() {
    drop(leakwatch::tokio::spawn_local(std::future::pending::<()>()));
}

// With `--cfg tokio_unstable` the runtime's hooks give such a task its site:
// tests/tokio_hooks.rs checks that tier.
#[cfg(not(tokio_unstable))]
#[leakwatch::test(grace = "60ms")]
#[ignore = "fails on purpose: run by a parent test in a child process"]
async fn untracked_task_still_running_fails_without_a_site() {
    // Plain tokio::spawn, as library code does: no record, but counted.
    drop(tokio::spawn(std::future::pending::<()>()));
}

// A tracked blocking task that the rules ignore is no excuse for an untracked
// async task: tokio counts the two kinds apart.
#[cfg(not(tokio_unstable))]
#[leakwatch::test(grace = "60ms", ignore = "kind:blocking-task")]
#[ignore = "fails on purpose: run by a parent test in a child process"]
async fn an_ignored_blocking_task_does_not_hide_an_untracked_task() {
    drop(leakwatch::tokio::spawn_blocking(|| {
        std::thread::sleep(Duration::from_secs(10))
    }));
    drop(tokio::spawn(std::future::pending::<()>()));
}

#[leakwatch::test(grace = "60ms")]
#[ignore = "fails on purpose: run by a parent test in a child process"]
fn leaking_test_that_returns_an_error_fails_with_both() -> Result<(), std::io::Error> {
    std::mem::forget(File::open("Cargo.toml").unwrap());
    Err(std::io::Error::other("the test's own error"))
}

#[leakwatch::test(grace = "60ms")]
#[ignore = "fails on purpose: run by a parent test in a child process"]
async fn leaking_async_test_that_returns_an_error_fails_with_both() -> Result<(), String> {
    park_a_connection_in_an_endless_task().await;
    Err("the test's own error".into())
}

#[leakwatch::test(grace = "60ms")]
#[should_panic]
#[ignore = "fails on purpose: run by a parent test in a child process"]
fn leaking_should_panic_test_fails() {
    std::mem::forget(File::open("Cargo.toml").unwrap());
}

#[leakwatch::test(grace = "60ms")]
#[should_panic(expected = "the test's own panic")]
#[ignore = "fails on purpose: run by a parent test in a child process"]
fn leaking_should_panic_test_that_panics_fails() {
    std::mem::forget(File::open("Cargo.toml").unwrap());
    panic!("the test's own panic");
}

#[leakwatch::test(grace = "60ms")]
#[should_panic]
#[ignore = "fails on purpose: run by a parent test in a child process"]
async fn leaking_async_should_panic_test_fails() {
    park_a_connection_in_an_endless_task().await;
}

#[rstest]
#[case(7)]
#[leakwatch::test(grace = "60ms")]
#[ignore = "fails on purpose: run by a parent test in a child process"]
fn rstest_case_that_leaks(#[case] n: u32) {
    std::mem::forget(Tracked::new(n, "db-conn"));
}

#[test_case(7)]
#[leakwatch::test(grace = "60ms")]
#[ignore = "fails on purpose: run by a parent test in a child process"]
fn test_case_that_leaks(n: u32) {
    std::mem::forget(Tracked::new(n, "db-conn"));
}

// ---- the parents ----

#[test]
fn leaky_tests_fail_at_their_own_line_with_the_report() {
    let cases = [
        (
            "sync_test_that_forgets_a_file_fails",
            "1 file still open, opened at crates/leakwatch/tests/it/attribute.rs:",
        ),
        (
            "async_test_with_a_task_holding_a_connection_fails",
            "1 db-conn still open",
        ),
        (
            "multi_thread_workers_belong_to_the_test",
            "1 db-conn still open",
        ),
        (
            "local_flavor_reports_a_leaked_local_task",
            "1 task still open, spawned at crates/leakwatch/tests/it/attribute.rs:",
        ),
        (
            "rstest_case_that_leaks::case_1",
            "1 db-conn still open, opened at crates/leakwatch/tests/it/attribute.rs:",
        ),
        (
            "test_case_that_leaks::test_case_1_7_expects",
            "1 db-conn still open, opened at crates/leakwatch/tests/it/attribute.rs:",
        ),
    ];
    for (name, expected) in cases {
        child::fails_with(module_path!(), file!(), name, expected);
    }
}

#[cfg(not(tokio_unstable))]
#[test]
fn tests_leaving_untracked_tasks_fail_without_a_site() {
    for name in [
        "untracked_task_still_running_fails_without_a_site",
        "an_ignored_blocking_task_does_not_hide_an_untracked_task",
    ] {
        child::fails_with(
            module_path!(),
            file!(),
            name,
            "LEAK leakwatch: 1 task still running on the runtime of `it::attribute::",
        );
    }
}

/// The failure is located at the test's name: the line of the `fn`.
#[test]
fn the_failure_points_at_the_test_and_shows_no_backtrace() {
    let line = find_line("fn sync_test_that_forgets_a_file_fails");
    let output = child::fails_with(
        module_path!(),
        file!(),
        "sync_test_that_forgets_a_file_fails",
        "1 file still open",
    );
    assert!(
        output.contains(&format!("panicked at {}:{line}:", file!())),
        "{output}"
    );
    assert!(!output.contains("leakwatch/src/"), "{output}");
}

#[test]
fn a_leaking_test_that_returns_an_error_reports_both() {
    for name in [
        "leaking_test_that_returns_an_error_fails_with_both",
        "leaking_async_test_that_returns_an_error_fails_with_both",
    ] {
        let output = child::fails_with(module_path!(), file!(), name, "still open");
        assert!(output.contains("also returned an error: "), "{output}");
        assert!(output.contains("the test's own error"), "{output}");
    }
}

#[test]
fn a_leak_never_satisfies_should_panic() {
    for name in [
        "leaking_should_panic_test_fails",
        "leaking_should_panic_test_that_panics_fails",
        "leaking_async_should_panic_test_fails",
    ] {
        let run = child::run(module_path!(), name, &[]);
        assert!(!run.passed, "`{name}` passed:\n{}", run.output);
        assert!(run.output.contains("still open"), "{}", run.output);
        assert!(
            run.output
                .contains("is #[should_panic]; a leak report never counts as its panic")
                || run.output.contains(
                    "is #[should_panic]; it panicked as expected, but a leak report never counts as its panic"
                ),
            "{}",
            run.output
        );
    }
}

/// The line of this file that starts with `text`.
fn find_line(text: &str) -> usize {
    let source = include_str!("attribute.rs");
    1 + source
        .lines()
        .position(|l| l.starts_with(text))
        .unwrap_or_else(|| panic!("no line starting with {text:?}"))
}
