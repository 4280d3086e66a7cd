//! The leak patterns of the seeds (Go's leaked goroutines), ported to Rust
//! tasks. Each leaky version is reported at the line that spawned the task;
//! each fixed version passes.

#![cfg(feature = "tokio")]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::support::only_group;
use crate::support::tasks::{LONG, SHORT, check_async};
use leakwatch::Tracked;
use leakwatch::integration::Finding;
use tokio::sync::{Mutex, mpsc, oneshot, watch};

/// Sum of squares: workers send results on an unbuffered-like channel; the
/// caller stops reading when cancelled, and the workers block on send forever.
#[test]
fn workers_blocked_on_send_after_the_caller_stops_reading() {
    /// Spawns `n` workers sending squares; reads one result and stops,
    /// keeping the receiver (as a caller that was cancelled mid-read does).
    async fn sum_of_squares(
        n: u64,
        cancel: watch::Receiver<bool>,
        fixed: bool,
    ) -> (u32, mpsc::Receiver<u64>) {
        let (tx, mut rx) = mpsc::channel::<u64>(1);
        let mut line = 0;
        for i in 0..n {
            let tx = tx.clone();
            let mut cancel = cancel.clone();
            let worker = async move {
                if fixed {
                    tokio::select! {
                        _ = tx.send(i * i) => {}
                        _ = cancel.wait_for(|c| *c) => {}
                    }
                } else {
                    let _ = tx.send(i * i).await;
                }
            };
            (_, line) = (leakwatch::tokio::spawn(worker), line!());
        }
        let _first = rx.recv().await;
        (line, rx)
    }
    let (cancel_tx, cancel) = watch::channel(false);
    let (result, (line, rx)) = check_async(SHORT, async {
        let out = sum_of_squares(4, cancel, false).await;
        cancel_tx.send(true).unwrap();
        out
    });
    let report = result.unwrap_err();
    let group = only_group(&report, "task", Finding::StillOpen, line);
    assert!(group.count() >= 2, "{report}");
    drop(rx);

    let (cancel_tx, cancel) = watch::channel(false);
    let (result, (_, rx)) = check_async(LONG, async {
        let out = sum_of_squares(4, cancel, true).await;
        cancel_tx.send(true).unwrap();
        out
    });
    result.unwrap();
    drop(rx);
}

/// A connection with a monitor task whose handler blocks: the monitor never
/// sees the connection close.
#[test]
fn monitor_task_of_a_closed_connection() {
    struct Conn {
        closed: Option<oneshot::Sender<()>>,
    }
    fn connect(fixed: bool) -> (Conn, u32) {
        let (closed, on_close) = oneshot::channel::<()>();
        let monitor = async move {
            if fixed {
                let _ = on_close.await;
            } else {
                // The handler waits for events that never come, and never
                // looks at `on_close`.
                let _keep = on_close;
                std::future::pending::<()>().await;
            }
        };
        let (_, line) = (leakwatch::tokio::spawn(monitor), line!());
        (
            Conn {
                closed: Some(closed),
            },
            line,
        )
    }
    impl Drop for Conn {
        fn drop(&mut self) {
            let _ = self.closed.take().map(|c| c.send(()));
        }
    }
    let (result, line) = check_async(SHORT, async { connect(false).1 });
    only_group(&result.unwrap_err(), "task", Finding::StillOpen, line);
    let (result, _) = check_async(LONG, async { connect(true).1 });
    result.unwrap();
}

/// Lazy closing order: the server closes its pool but not its background
/// task, which runs on holding a connection it took from the pool.
#[test]
fn background_task_outlives_its_server() {
    struct Server {
        pool: Arc<Mutex<Vec<Tracked<()>>>>,
        stop: Arc<AtomicBool>,
        task: tokio::task::JoinHandle<()>,
    }
    fn start() -> (Server, u32) {
        let pool = Arc::new(Mutex::new(vec![Tracked::new((), "db-conn")]));
        let stop = Arc::new(AtomicBool::new(false));
        let background = {
            let (pool, stop) = (pool.clone(), stop.clone());
            async move {
                let conn = pool.lock().await.pop();
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                drop(conn);
            }
        };
        let (task, line) = (leakwatch::tokio::spawn(background), line!());
        (Server { pool, stop, task }, line)
    }
    impl Server {
        async fn close_lazily(self) {
            self.pool.lock().await.clear(); // the task is never told
        }
        async fn close(self) {
            self.stop.store(true, Ordering::Relaxed);
            self.task.await.unwrap();
            self.pool.lock().await.clear();
        }
    }
    let (result, line) = check_async(SHORT, async {
        let (server, line) = start();
        tokio::task::yield_now().await;
        server.close_lazily().await;
        line
    });
    let report = result.unwrap_err();
    let task = report
        .groups()
        .iter()
        .find(|g| g.kind() == "task")
        .expect("task");
    assert_eq!(task.site().line(), line, "{report}");
    assert!(
        report.groups().iter().any(|g| g.kind() == "db-conn"),
        "{report}"
    );

    let (result, ()) = check_async(LONG, async {
        let (server, _) = start();
        tokio::task::yield_now().await;
        server.close().await;
    });
    result.unwrap();
}

/// A consumer iterating a channel that nobody closes.
#[test]
fn consumer_of_a_channel_nobody_closes() {
    fn consume(rx: mpsc::Receiver<u32>) -> u32 {
        let consumer = async move {
            let mut rx = rx;
            while let Some(item) = rx.recv().await {
                std::hint::black_box(item);
            }
        };
        let (_, line) = (leakwatch::tokio::spawn(consumer), line!());
        line
    }
    let (result, (line, tx)) = check_async(SHORT, async {
        let (tx, rx) = mpsc::channel(8);
        tx.send(1).await.unwrap();
        (consume(rx), tx) // the sender is kept: the channel never closes
    });
    only_group(&result.unwrap_err(), "task", Finding::StillOpen, line);
    drop(tx);

    let (result, _) = check_async(LONG, async {
        let (tx, rx) = mpsc::channel(8);
        tx.send(1).await.unwrap();
        let line = consume(rx);
        drop(tx); // closing the channel ends the consumer
        line
    });
    result.unwrap();
}

/// An interval task that is never stopped.
#[test]
fn ticker_that_is_never_stopped() {
    fn start_ticker(stop: Option<oneshot::Receiver<()>>) -> u32 {
        let ticker = async move {
            let mut interval = tokio::time::interval(Duration::from_millis(5));
            match stop {
                Some(mut stop) => loop {
                    tokio::select! {
                        _ = interval.tick() => {}
                        _ = &mut stop => break,
                    }
                },
                None => loop {
                    interval.tick().await;
                },
            }
        };
        let (_, line) = (leakwatch::tokio::spawn(ticker), line!());
        line
    }
    let (result, line) = check_async(SHORT, async { start_ticker(None) });
    only_group(&result.unwrap_err(), "task", Finding::StillOpen, line);

    let (result, ()) = check_async(LONG, async {
        let (stop, stopped) = oneshot::channel();
        start_ticker(Some(stopped));
        tokio::time::sleep(Duration::from_millis(12)).await;
        stop.send(()).unwrap();
    });
    result.unwrap();
}

/// An early return leaves a sender blocked on a full bounded channel.
#[test]
fn sender_blocked_on_a_full_channel_after_an_early_return() {
    async fn first_valid(capacity: usize) -> Option<(u32, u32)> {
        let (tx, mut rx) = mpsc::channel(capacity);
        let producer = async move {
            for item in [0u32, 7, 8, 9] {
                if tx.send(item).await.is_err() {
                    return; // the receiver is gone
                }
            }
        };
        let (_, line) = (leakwatch::tokio::spawn(producer), line!());
        while let Some(item) = rx.recv().await {
            if item != 0 {
                // Early return, but `rx` is forgotten (as if parked in a
                // cache), so the producer blocks on the full channel.
                std::mem::forget(rx);
                return Some((item, line));
            }
        }
        None
    }
    let (result, found) = check_async(SHORT, first_valid(1));
    let (item, line) = found.unwrap();
    assert_eq!(item, 7);
    only_group(&result.unwrap_err(), "task", Finding::StillOpen, line);

    // Fixed: the receiver is dropped on return, so `send` fails and the
    // producer ends.
    async fn first_valid_fixed() -> Option<u32> {
        let (tx, mut rx) = mpsc::channel(1);
        leakwatch::tokio::spawn(async move {
            for item in [0u32, 7, 8, 9] {
                if tx.send(item).await.is_err() {
                    return;
                }
            }
        });
        while let Some(item) = rx.recv().await {
            if item != 0 {
                return Some(item);
            }
        }
        None
    }
    let (result, found) = check_async(LONG, first_valid_fixed());
    assert_eq!(found, Some(7));
    result.unwrap();
}

/// A `JoinHandle` dropped (detached) on a task that never ends.
#[test]
fn detached_task_that_never_ends() {
    let (result, line) = check_async(SHORT, async {
        let never_ends = std::future::pending::<()>();
        let (handle, line) = (leakwatch::tokio::spawn(never_ends), line!());
        drop(handle); // detaches; the task runs on
        line
    });
    only_group(&result.unwrap_err(), "task", Finding::StillOpen, line);

    let (result, ()) = check_async(LONG, async {
        let handle = leakwatch::tokio::spawn(std::future::pending::<()>());
        handle.abort(); // the fix: keep the handle and stop the task
        let _ = handle.await;
    });
    result.unwrap();
}
