use std::panic::Location;
use std::sync::Barrier;

use super::*;
use crate::scope_id::ScopeId;

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
fn records_stay_small() {
    // Moved into the map on every open of a detailed item, and out of it on
    // a must-close drop: keep it within a line and a half.
    assert!(size_of::<Record>() <= 96, "{}", size_of::<Record>());
}

#[test]
fn release_keeps_only_must_close_records() {
    let plain = insert(ScopeId::NONE, |_, _| record("release-plain"));
    let must = insert(ScopeId::NONE, |_, _| Record {
        must_close: true,
        ..record("release-must")
    });
    assert!(release(plain).is_none());
    assert_eq!(release(must).map(|r| r.kind), Some("release-must"));
    assert!(live_ids("release-plain").is_empty() && live_ids("release-must").is_empty());
}

#[test]
fn a_late_id_goes_only_to_its_own_record() {
    // Still open: the id is set.
    let handle = insert(ScopeId::NONE, |_, _| record("late-task"));
    assert!(set_id_late(&handle.late(), 7));
    assert_eq!(live_ids("late-task"), [Some(7)]);
    drop(remove(handle));
    // Dropped before the id came: nothing is set, and the next record
    // (which takes the next key) keeps its own lack of one.
    let handle = insert(ScopeId::NONE, |_, _| record("late-task"));
    let late = handle.late();
    drop(remove(handle));
    let next = insert(ScopeId::NONE, |_, _| record("late-task"));
    assert!(!set_id_late(&late, 8));
    assert_eq!(live_ids("late-task"), [None]);
    drop(remove(next));
}

#[test]
fn items_dropped_on_another_thread_leave_the_registry() {
    let kind = "moved-to-another-thread";
    let handle = insert(ScopeId::NONE, |_, _| record(kind));
    assert_eq!(live_ids(kind).len(), 1);
    std::thread::spawn(move || drop(remove(handle))).join().unwrap();
    assert!(live_ids(kind).is_empty());
}

#[test]
fn counts_stay_exact_under_concurrent_inserts_and_removes() {
    const THREADS: usize = 4;
    const ROUNDS: usize = 2_000;
    let scope = scopes::create(ScopeId::NONE);
    let barrier = Barrier::new(THREADS);
    let kept: Vec<Vec<Handle>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|w| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let mut kept = Vec::new();
                    for i in 0..ROUNDS {
                        // Plain items in rings, detailed ones in the map.
                        let h = if (i + w) % 2 == 0 {
                            insert_plain("stress-registry", Location::caller(), scope)
                        } else {
                            insert(scope, |_, scope| Record {
                                scope,
                                ..record("stress-registry")
                            })
                        };
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
    assert_eq!(live_ids("stress-registry").len(), THREADS * ROUNDS / 10);
    assert!(!quiet(&[scope]));
    // Remove them all from one thread: cross-thread removal.
    for h in kept.into_iter().flatten() {
        drop(remove(h));
    }
    assert!(live_ids("stress-registry").is_empty());
    assert!(quiet(&[scope]));
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

#[test]
fn record_keys_are_never_used_twice() {
    let mut keys: Vec<u64> = (0..10_000).map(|_| thread::next_key()).collect();
    keys.extend(std::thread::spawn(|| (0..10_000).map(|_| thread::next_key()).collect::<Vec<_>>()).join().unwrap());
    let unique: std::collections::HashSet<u64> = keys.iter().copied().collect();
    assert_eq!(unique.len(), keys.len());
    assert!(keys.iter().all(|k| k & IN_RING == 0));
}
#[test]
fn plain_items_go_to_their_threads_ring_and_take_ids() {
    let (kind, scope) = ("plain-in-ring", scopes::create(ScopeId::NONE));
    let handle = insert_plain(kind, Location::caller(), scope);
    assert!(handle.ring().is_some(), "a thread's plain item is in its ring");
    assert_eq!((live_ids(kind), quiet(&[scope])), (vec![None], false));
    assert!(set_id(&handle, 41));
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
    let handle = insert_fd(kind, Location::caller(), scope, 7);
    assert!(handle.ring().is_some(), "a descriptor's item is in its thread's ring");
    let mut fds = Vec::new();
    for_each_live(|r| {
        if r.kind == kind {
            fds.push((r.fd(), r.id(), r.scope));
        }
    });
    assert_eq!(fds, [(Some(7), None, scope)]);
    assert!(release(handle).is_none());
    assert!(quiet(&[scope]));
}

#[test]
fn an_item_of_a_dropped_and_balanced_scope_goes_to_no_scope() {
    let scope = scopes::create(ScopeId::NONE);
    scopes::drop_scope(scope);
    let handle = insert_plain("after-its-scope", Location::caller(), scope);
    let mut scopes_seen = Vec::new();
    for_each_live(|r| {
        if r.kind == "after-its-scope" {
            scopes_seen.push(r.scope);
        }
    });
    assert_eq!(scopes_seen, [ScopeId::NONE]);
    assert!(release(handle).is_none());
}

#[test]
fn plain_items_outlive_their_thread_in_its_ring() {
    let (kind, scope) = ("plain-outlives-thread", scopes::create(ScopeId::NONE));
    let site = Location::caller();
    let handle = std::thread::spawn(move || insert_plain(kind, site, scope))
        .join()
        .unwrap();
    assert!(handle.ring().is_some());
    // Threads that may take the exited thread's shard open and close
    // around the item, with keys of their own.
    for _ in 0..2 {
        std::thread::spawn(move || {
            for _ in 0..1_000 {
                let churn = insert_plain("plain-churn", site, scope);
                assert!(release(churn).is_none());
            }
        })
        .join()
        .unwrap();
    }
    assert_eq!((live_ids(kind).len(), quiet(&[scope])), (1, false));
    // Closed from yet another thread.
    std::thread::spawn(move || assert!(release(handle).is_none()))
        .join()
        .unwrap();
    assert_eq!((live_ids(kind).len(), quiet(&[scope])), (0, true));
}

#[test]
fn the_fallback_shard_has_no_ring() {
    // The fallback shard serves threads whose thread-locals are gone, many
    // at once: it has no ring, which only one thread may open in, so their
    // plain items go to the map.
    assert!(thread::FALLBACK.own.is_none());
    let shards: Vec<_> = thread::all();
    assert!(shards.iter().any(|s| std::ptr::eq(*s, &thread::FALLBACK)));
    assert!(shards.iter().filter(|s| !std::ptr::eq(**s, &thread::FALLBACK)).all(|s| s.own.is_some()));
}
