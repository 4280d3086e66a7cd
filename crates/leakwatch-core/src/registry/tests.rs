use std::panic::Location;
use std::sync::Barrier;

use super::*;
use crate::scope_id::ScopeId;

/// Records live in `shard`'s slab.
fn live(shard: &Shard) -> usize {
    let mut n = 0;
    shard.for_each(&mut |_| n += 1);
    n
}

fn record(kind: &'static str) -> Record {
    Record {
        kind,
        site: Location::caller(),
        opened: 0,
        thread: 0,
        scope: ScopeId::NONE,
        must_close: false,
        number: None,
        detail: None,
        stack: None,
    }
}

#[test]
fn records_stay_small() {
    // Moved into the slab on every open of a detailed item, and out of it
    // on a must-close drop: keep it within a line and a half.
    assert!(size_of::<Record>() <= 96, "{}", size_of::<Record>());
}

#[test]
fn a_slab_reuses_freed_slots_and_gives_back_only_must_close_records() {
    let shard = Shard::new();
    let (plain, _) = shard.insert(0, |_| record("plain"));
    let (must, _) = shard.insert(0, |_| Record {
        must_close: true,
        ..record("must")
    });
    assert_eq!(live(&shard), 2);
    assert!(shard.remove(plain).1.is_none());
    let (again, _) = shard.insert(0, |_| record("again"));
    assert_eq!(again, plain, "the freed slot is taken first");
    assert_eq!(shard.remove(must).1.map(|r| r.kind), Some("must"));
    assert!(shard.remove(again).1.is_none());
    assert_eq!(live(&shard), 0);
}

#[test]
fn a_late_id_goes_only_to_its_own_record() {
    // The id of the shard's one live "task" record.
    let task_id = |shard: &Shard| {
        let mut id = None;
        shard.for_each(&mut |r| {
            if r.kind == "task" {
                id = r.id();
            }
        });
        id
    };
    let shard = Shard::new();
    // Still open: the id is set.
    let (a, stamp) = shard.insert(0, |_| record("task"));
    assert!(shard.set_id(a, Some(stamp), 7));
    assert_eq!(task_id(&shard), Some(7));
    shard.remove(a);
    // Dropped before the id came: nothing is set.
    let (b, stamp) = shard.insert(0, |_| record("task"));
    shard.remove(b);
    assert!(!shard.set_id(b, Some(stamp), 8));
    // Dropped, and its slot reused by another item: that item keeps its
    // own (lack of) id.
    let (c, stamp) = shard.insert(0, |_| record("other"));
    shard.remove(c);
    let (d, _) = shard.insert(0, |_| record("task"));
    assert_eq!(c, d, "the slot was reused");
    assert!(!shard.set_id(c, Some(stamp), 9));
    assert_eq!(task_id(&shard), None);
}

#[test]
fn items_dropped_on_another_thread_leave_their_shard() {
    // Counted by kind: the shard may be a pooled one whose other items
    // other tests' threads are dropping meanwhile.
    let kind = "moved-to-another-thread";
    let count = |shard: &Shard| {
        let mut n = 0;
        shard.for_each(&mut |r: &Record| n += usize::from(r.kind == kind));
        n
    };
    let handle = insert(ScopeId::NONE, |_, _| record(kind));
    let shard = handle.shard;
    assert_eq!(count(shard), 1);
    std::thread::spawn(move || assert!(remove(handle).is_none())).join().unwrap();
    assert_eq!(count(shard), 0);
}

#[test]
fn exited_threads_hand_their_shard_to_new_threads() {
    // A thread that exits with an item still open keeps it visible.
    let handle = std::thread::spawn(|| insert(ScopeId::NONE, |_, _| record("outlives-thread")))
        .join()
        .unwrap();
    let mut seen = 0;
    for_each_live(|r| seen += usize::from(r.kind == "outlives-thread"));
    assert_eq!(seen, 1);
    assert!(remove(handle).is_none());
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
                        let h = insert(ScopeId::NONE, |_, _| record("stress-registry"));
                        if i % 10 == 0 {
                            kept.push(h);
                        } else {
                            assert!(remove(h).is_none());
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
        assert!(remove(h).is_none());
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

/// Records of `kind` open anywhere, with their ids.
fn live_ids(kind: &str) -> Vec<Option<u64>> {
    let mut ids = Vec::new();
    for_each_live(|r| {
        if r.kind == kind {
            ids.push(r.id());
        }
    });
    ids
}

#[test]
fn plain_items_go_to_their_threads_ring_and_take_ids() {
    let (kind, scope) = ("plain-in-ring", scopes::create(ScopeId::NONE));
    let handle = insert_plain(kind, Location::caller(), scope, None);
    assert!(handle.ring().is_some(), "a thread's plain item is in its ring");
    assert_eq!((live_ids(kind), quiet(&[scope])), (vec![None], false));
    set_id(&handle, 41);
    assert_eq!(live_ids(kind), [Some(41)]);

    // A late id reaches the item while it is open, and nothing once closed.
    let late = handle.late();
    assert!(set_id_late(&late, 42));
    assert_eq!(live_ids(kind), [Some(42)]);
    assert!(remove(handle).is_none(), "no slab record to give back");
    assert!(!set_id_late(&late, 43));
    assert_eq!((live_ids(kind), quiet(&[scope])), (vec![], true));
}

#[test]
fn a_tracked_descriptor_is_a_plain_item_with_its_number() {
    let (kind, scope) = ("fd-in-ring", scopes::create(ScopeId::NONE));
    let handle = insert_plain(kind, Location::caller(), scope, Some(7));
    assert!(handle.ring().is_some(), "a descriptor's item is in its thread's ring");
    let mut fds = Vec::new();
    for_each_live(|r| {
        if r.kind == kind {
            fds.push((r.fd(), r.id(), r.scope));
        }
    });
    assert_eq!(fds, [(Some(7), None, scope)]);
    assert!(remove(handle).is_none());
    assert!(quiet(&[scope]));
}

#[test]
fn an_item_of_a_dropped_and_balanced_scope_goes_to_no_scope() {
    let scope = scopes::create(ScopeId::NONE);
    scopes::drop_scope(scope);
    let handle = insert_plain("after-its-scope", Location::caller(), scope, None);
    let mut scopes_seen = Vec::new();
    for_each_live(|r| {
        if r.kind == "after-its-scope" {
            scopes_seen.push(r.scope);
        }
    });
    assert_eq!(scopes_seen, [ScopeId::NONE]);
    assert!(remove(handle).is_none());
}

#[test]
fn plain_items_outlive_their_thread_in_its_ring() {
    let (kind, scope) = ("plain-outlives-thread", scopes::create(ScopeId::NONE));
    let site = Location::caller();
    let handle = std::thread::spawn(move || insert_plain(kind, site, scope, None))
        .join()
        .unwrap();
    assert!(handle.ring().is_some());
    // Threads that may take the exited thread's shard open and close
    // around the item, with keys of their own.
    for _ in 0..2 {
        std::thread::spawn(move || {
            for _ in 0..1_000 {
                let churn = insert_plain("plain-churn", site, scope, None);
                assert!(remove(churn).is_none());
            }
        })
        .join()
        .unwrap();
    }
    assert_eq!((live_ids(kind).len(), quiet(&[scope])), (1, false));
    // Closed from yet another thread.
    std::thread::spawn(move || assert!(remove(handle).is_none()))
        .join()
        .unwrap();
    assert_eq!((live_ids(kind).len(), quiet(&[scope])), (0, true));
}

#[test]
fn the_fallback_shard_keeps_plain_items_in_its_slab() {
    // The fallback shard serves threads whose thread-locals are gone, many
    // at once: it has no ring, which only one thread may open in.
    assert!(shard::FALLBACK.own.is_none());
    let shards: Vec<_> = shard::all();
    assert!(shards.iter().any(|s| std::ptr::eq(*s, &shard::FALLBACK)));
    assert!(shards.iter().filter(|s| !std::ptr::eq(**s, &shard::FALLBACK)).all(|s| s.own.is_some()));
}
