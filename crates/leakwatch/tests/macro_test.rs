//! `#[leakwatch::test]` on sync and async tests.

#![cfg(feature = "tokio")]

use std::io::Read;

use leakwatch::Tracked;
use leakwatch::fs::File;

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
#[should_panic(expected = "1 file still open, opened at crates/leakwatch/tests/macro_test.rs:")]
fn sync_test_that_forgets_a_file_fails() {
    std::mem::forget(File::open("Cargo.toml").unwrap());
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

#[leakwatch::test]
#[should_panic(expected = "1 db-conn still open")]
async fn async_test_with_a_task_holding_a_connection_fails() {
    // The check runs before the runtime shuts down, so the task is reported
    // rather than silently cancelled.
    park_a_connection_in_an_endless_task().await;
}

#[leakwatch::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "1 db-conn still open")]
async fn multi_thread_workers_belong_to_the_test() {
    park_a_connection_in_an_endless_task().await;
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
    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
}

// With `--cfg tokio_unstable` the runtime's hooks give such a task its site:
// tests/tokio_hooks.rs checks that tier.
#[cfg(not(tokio_unstable))]
#[leakwatch::test(grace = "20ms")]
#[should_panic(expected = "LEAK leakwatch: 1 task still running on the runtime of `macro_test::")]
async fn untracked_task_still_running_fails_without_a_site() {
    // Plain tokio::spawn, as library code does: no record, but counted.
    drop(tokio::spawn(std::future::pending::<()>()));
}

// A tracked blocking task that the rules ignore is no excuse for an untracked
// async task: tokio counts the two kinds apart.
#[cfg(not(tokio_unstable))]
#[leakwatch::test(grace = "20ms", ignore = "kind:blocking-task")]
#[should_panic(expected = "LEAK leakwatch: 1 task still running on the runtime of `macro_test::")]
async fn an_ignored_blocking_task_does_not_hide_an_untracked_task() {
    drop(leakwatch::tokio::spawn_blocking(|| {
        std::thread::sleep(std::time::Duration::from_millis(500))
    }));
    drop(tokio::spawn(std::future::pending::<()>()));
}

#[leakwatch::test(flavor = "multi_thread", worker_threads = 2)]
async fn untracked_tasks_that_finish_in_the_grace_pass() {
    for _ in 0..4 {
        drop(tokio::spawn(tokio::time::sleep(
            std::time::Duration::from_millis(10),
        )));
    }
}
