// Everyday tokio task code, included by `drop_in.rs` under tokio's names
// and under leakwatch's: it must compile and pass under both with nothing
// but the import of `task` changed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

async fn double(n: u32) -> u32 {
    tokio::task::yield_now().await;
    n * 2
}

#[tokio::test]
async fn spawn_async_move_and_await() {
    let name = String::from("ada");
    let greeting = task::spawn(async move { format!("hello, {name}") });
    assert_eq!(greeting.await.unwrap(), "hello, ada");

    let handles: Vec<JoinHandle<u32>> = (0..4).map(|n| task::spawn(double(n))).collect();
    let mut total = 0;
    for handle in handles {
        total += handle.await.unwrap();
    }
    assert_eq!(total, 12);

    let failed = task::spawn(async { panic!("on purpose") }).await;
    assert!(failed.unwrap_err().is_panic());
}

#[tokio::test]
async fn abort_a_task_and_see_it_cancelled() {
    let (tx, mut rx) = mpsc::channel::<u32>(1);
    let consumer = task::spawn(async move { while rx.recv().await.is_some() {} });
    tokio::task::yield_now().await;
    assert!(!consumer.is_finished());
    let abort = consumer.abort_handle();
    abort.abort();
    assert!(consumer.await.unwrap_err().is_cancelled());
    drop(tx);

    let (stop, stopped) = oneshot::channel::<()>();
    let worker = task::spawn(async move { stopped.await.is_ok() });
    stop.send(()).unwrap();
    assert!(worker.await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_blocking_for_synchronous_work() {
    let counted = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&counted);
    let sum = task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_millis(1));
        seen.fetch_add(1, Ordering::SeqCst);
        (1..=10u64).sum::<u64>()
    })
    .await
    .unwrap();
    assert_eq!(sum, 55);
    assert_eq!(counted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn spawn_local_on_a_local_set() {
    let local = tokio::task::LocalSet::new();
    let out = local
        .run_until(async {
            let shared = std::rc::Rc::new(5); // not Send
            task::spawn_local(async move { *shared + 1 }).await.unwrap()
        })
        .await;
    assert_eq!(out, 6);
}

#[tokio::test]
async fn join_set_spawn_join_next_and_shutdown() {
    let mut set = task::JoinSet::new();
    for i in 0..3u32 {
        set.spawn(async move { i });
    }
    set.spawn_blocking(|| 10);
    let mut sum = 0;
    while let Some(res) = set.join_next().await {
        sum += res.unwrap();
    }
    assert_eq!(sum, 13);
    assert!(set.is_empty());

    set.spawn(std::future::pending());
    set.spawn(std::future::pending());
    assert_eq!(set.len(), 2);
    set.shutdown().await;
    assert!(set.is_empty());

    let mut cancelled = task::JoinSet::<()>::new();
    let handle = cancelled.spawn(std::future::pending());
    handle.abort();
    assert!(cancelled.join_next().await.unwrap().unwrap_err().is_cancelled());
}

#[tokio::test]
async fn join_set_collect_extend_and_join_all() {
    let mut set: task::JoinSet<u32> = (0..3).map(double).collect();
    set.extend((3..5).map(|n| async move { n * 2 }));
    let mut all = set.join_all().await;
    all.sort_unstable();
    assert_eq!(all, [0, 2, 4, 6, 8]);

    let mut by_id = task::JoinSet::default();
    let id = by_id.spawn(async { "done" }).id();
    assert_eq!(by_id.join_next_with_id().await.unwrap().unwrap(), (id, "done"));
    assert!(by_id.try_join_next().is_none());
}
