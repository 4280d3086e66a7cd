use std::panic::Location;
use std::sync::Barrier;

use super::*;
use crate::scope::ScopeId;

fn record(kind: &'static str) -> Record {
    Record {
        kind,
        site: Location::caller(),
        opened: 0,
        thread: 0,
        scope: ScopeId::NONE,
        must_close: false,
        number_is: NumberIs::Nothing,
        number: 0,
        detail: None,
        stack: None,
    }
}

#[test]
fn records_stay_small() {
    // Moved on every open and drop: keep it well within a cache line.
    assert!(size_of::<Record>() <= 80, "{}", size_of::<Record>());
}

#[test]
fn slab_reuses_freed_slots() {
    let shard = Shard::new();
    let a = shard.insert(record("a"));
    let b = shard.insert(record("b"));
    assert_eq!(shard.remove(a).kind, "a");
    let c = shard.insert(record("c"));
    assert_eq!(c, a, "the freed slot is taken first");
    assert_eq!(shard.live(), 2);
    assert_eq!(shard.remove(b).kind, "b");
    assert_eq!(shard.remove(c).kind, "c");
    assert_eq!(shard.live(), 0);
}

#[test]
fn release_keeps_only_must_close_records() {
    let shard = Shard::new();
    let plain = shard.insert(record("plain"));
    let mut must = record("must");
    must.must_close = true;
    let must = shard.insert(must);
    assert!(shard.release(plain).is_none());
    assert_eq!(shard.release(must).map(|r| r.kind), Some("must"));
    assert_eq!(shard.live(), 0);
    // Both slots are free again.
    assert_eq!(shard.insert(record("again")), must);
    assert_eq!(shard.insert(record("again")), plain);
}

#[test]
fn items_dropped_on_another_thread_leave_their_shard() {
    let handle = insert(record("moved"));
    let shard = handle.shard;
    let before = shard.live();
    std::thread::spawn(move || drop(remove(handle))).join().unwrap();
    assert_eq!(shard.live(), before - 1);
}

#[test]
fn exited_threads_hand_their_shard_to_new_threads() {
    // A thread that exits with an item still open keeps it visible.
    let handle = std::thread::spawn(|| insert(record("outlives-thread")))
        .join()
        .unwrap();
    let mut seen = 0;
    for_each_live(|r| seen += usize::from(r.kind == "outlives-thread"));
    assert_eq!(seen, 1);
    drop(remove(handle));
    let mut seen = 0;
    for_each_live(|r| seen += usize::from(r.kind == "outlives-thread"));
    assert_eq!(seen, 0);
}

#[test]
fn counts_stay_exact_under_concurrent_inserts_and_removes() {
    const THREADS: usize = 4;
    const ROUNDS: usize = 2_000;
    let barrier = Barrier::new(THREADS);
    let kept: Vec<Vec<Handle>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let mut kept = Vec::new();
                    for i in 0..ROUNDS {
                        let h = insert(record("stress-registry"));
                        if i % 10 == 0 {
                            kept.push(h);
                        } else {
                            drop(remove(h));
                        }
                    }
                    kept
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let mut live = 0;
    for_each_live(|r| live += usize::from(r.kind == "stress-registry"));
    assert_eq!(live, THREADS * ROUNDS / 10);
    // Remove them all from one thread: cross-thread removal.
    for h in kept.into_iter().flatten() {
        drop(remove(h));
    }
    let mut live = 0;
    for_each_live(|r| live += usize::from(r.kind == "stress-registry"));
    assert_eq!(live, 0);
}

#[test]
fn named_threads_are_labelled_by_name() {
    let label = std::thread::Builder::new()
        .name("lw-worker".into())
        .spawn(|| {
            let (_, number) = thread::current();
            thread_label(number)
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(label, "'lw-worker'");
}
