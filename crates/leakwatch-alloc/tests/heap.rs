//! The counting allocator charges each block to the scope current when it
//! was allocated, wherever it is freed.
#![cfg(any(debug_assertions, feature = "production"))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Barrier, mpsc};

use leakwatch_alloc::{Counting, Heap, heap_in};
use leakwatch_core::{Scope, ScopeId};

#[global_allocator]
static A: Counting<System> = Counting::new(System);

fn heap(scope: &Scope) -> Heap {
    heap_in(&[scope.id()]).expect("the counting allocator is installed")
}

#[test]
fn blocks_kept_are_counted_and_freed_ones_are_not() {
    let scope = Scope::new("kept");
    let (kept, _) = scope.run(|| (vec![1u64; 8], drop(Box::new([0u8; 40]))));
    let h = heap(&scope);
    assert_eq!((h.blocks, h.bytes), (1, 64));
    drop(kept);
    assert_eq!(heap(&scope), Heap::default());
}

#[test]
fn a_block_freed_on_another_thread_leaves_its_scope() {
    let scope = Scope::new("sent");
    let block = scope.run(|| String::from("moved elsewhere"));
    assert_eq!(heap(&scope).blocks, 1);
    std::thread::spawn(move || drop(block)).join().unwrap();
    assert_eq!(heap(&scope), Heap::default());
}

#[test]
fn growth_is_charged_to_the_allocating_scope() {
    let scope = Scope::new("grown");
    let mut v: Vec<u8> = scope.run(|| Vec::with_capacity(10));
    let other = Scope::new("other");
    // Capacity for 100 more than its length of 0.
    other.run(|| v.reserve_exact(100));
    assert_eq!((heap(&scope).blocks, heap(&scope).bytes), (1, 100));
    assert_eq!(heap(&other), Heap::default());
    v.shrink_to(20);
    assert_eq!(heap(&scope).bytes, 20);
    drop(v);
    assert_eq!(heap(&scope), Heap::default());
}

#[test]
fn large_alignments_are_honoured() {
    let scope = Scope::new("aligned");
    for align in [1, 8, 16, 64, 4096] {
        let layout = Layout::from_size_align(24, align).unwrap();
        // SAFETY: a non-zero-sized layout, freed below with the same one.
        let p = scope.run(|| unsafe { A.alloc_zeroed(layout) });
        assert!(
            !p.is_null() && p.addr().is_multiple_of(align),
            "align {align}"
        );
        // SAFETY: `alloc_zeroed` returned 24 zeroed bytes at `p`.
        let bytes = unsafe { std::slice::from_raw_parts(p, 24) };
        assert!(bytes.iter().all(|&b| b == 0));
        assert_eq!((heap(&scope).blocks, heap(&scope).bytes), (1, 24));
        // SAFETY: `p` came from `A` with `layout`.
        unsafe { A.dealloc(p, layout) };
    }
    assert_eq!(heap(&scope), Heap::default());
}

#[test]
fn parallel_scopes_keep_their_own_counts() {
    let handles: Vec<_> = (1..=4u64)
        .map(|n| {
            std::thread::spawn(move || {
                let scope = Scope::new(format!("t{n}"));
                let kept: Vec<Box<[u8]>> = scope.run(|| {
                    (0..n * 100)
                        .map(|_| vec![0u8; 32].into_boxed_slice())
                        .collect()
                });
                let h = heap(&scope);
                // The outer Vec's buffer, and each boxed slice.
                assert_eq!(h.blocks, n * 100 + 1);
                assert_eq!(h.bytes, n * 100 * 32 + n * 100 * 16);
                drop(kept);
                assert_eq!(heap(&scope), Heap::default());
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn counts_outlive_the_threads_that_made_them() {
    let scope = Scope::new("outlived");
    let id = scope.id();
    // More threads than there are shards, each leaving a block behind.
    let kept: Vec<Box<[u8; 48]>> = (0..300)
        .map(|_| {
            std::thread::spawn(move || {
                let _in_scope = id.enter();
                Box::new([0u8; 48])
            })
            .join()
            .unwrap()
        })
        .collect();
    assert_eq!((heap(&scope).blocks, heap(&scope).bytes), (300, 300 * 48));
    drop(kept);
    assert_eq!(heap(&scope), Heap::default());
}

/// Scopes in the long test: more than the global table's 65,536 slots, and
/// thousands of times a thread's 32 words, so both must be taken back.
const LONG: usize = 70_000;
/// Scopes whose blocks go to the other thread at once.
const BATCH: usize = 100;

#[test]
fn counts_stay_exact_over_more_scopes_than_slots_freed_on_another_thread() {
    let (to_free, freeing) = mpsc::channel::<Vec<Box<[u8]>>>();
    let (freed, wait) = mpsc::channel::<()>();
    let freer = std::thread::spawn(move || {
        for blocks in freeing {
            drop(blocks);
            freed.send(()).unwrap();
        }
    });
    let free_elsewhere = move |blocks: Vec<Box<[u8]>>| {
        to_free.send(blocks).unwrap();
        wait.recv().unwrap();
    };
    // One scope in ten keeps a block here until the end.
    let mut kept = Vec::with_capacity(LONG / 10);
    for batch in 0..LONG / BATCH {
        let mut scopes = Vec::with_capacity(BATCH);
        let mut sent = Vec::with_capacity(BATCH * 4);
        for n in batch * BATCH..(batch + 1) * BATCH {
            let scope = Scope::new("long");
            let size = 1 + n % 300;
            let (three, one) = scope.run(|| {
                let three: [Box<[u8]>; 3] = std::array::from_fn(|i| vec![0u8; size + i].into());
                (three, Box::<[u8]>::from(vec![1u8; size]))
            });
            assert_eq!(heap(&scope).blocks, 4, "scope {n}");
            sent.extend(three);
            if n % 10 == 0 {
                kept.push((scope.id(), one));
            } else {
                sent.push(one);
            }
            scopes.push((n, scope, size));
        }
        free_elsewhere(sent);
        for (n, scope, size) in &scopes {
            let h = heap(scope);
            let want = if n % 10 == 0 {
                (1, *size as u64)
            } else {
                (0, 0)
            };
            assert_eq!((h.blocks, h.bytes), want, "scope {n}");
        }
    }
    // The kept counts are still exact, and freeing their blocks elsewhere
    // brings each to zero.
    for (n, (id, one)) in kept.iter().enumerate() {
        let h = heap_in(&[*id]).unwrap_or_else(|| panic!("kept scope {n} lost its count"));
        assert_eq!((h.blocks, h.bytes), (1, one.len() as u64), "kept scope {n}");
    }
    let ids: Vec<ScopeId> = kept.iter().map(|(id, _)| *id).collect();
    free_elsewhere(kept.into_iter().map(|(_, one)| one).collect());
    for (n, id) in ids.iter().enumerate() {
        assert_eq!(heap_in(&[*id]), Some(Heap::default()), "kept scope {n}");
    }
    // Later scopes count, on this thread and on the other.
    let later = Scope::new("later");
    let block = later.run(|| vec![0u8; 77]);
    assert_eq!((heap(&later).blocks, heap(&later).bytes), (1, 77));
    free_elsewhere(vec![block.into()]);
    assert_eq!(heap(&later), Heap::default());
    drop(free_elsewhere);
    freer.join().unwrap();
}

/// Threads in the stress test; the even ones allocate `steady` blocks that
/// the odd ones free.
const WORKERS: usize = 4;
/// Sums of a quiet `steady` the stress test's reader takes.
const READS: usize = 50_000;

#[test]
fn a_sum_taken_while_threads_move_their_words_is_exact() {
    // In cycles: first each even worker allocates 50 blocks in `steady` and
    // the next (odd) worker frees them, so their words for `steady` grow to
    // +50·k and −50·k while its count stays 10; then, with `steady` quiet,
    // every worker churns through the 64 scopes of `pool` (twice a shard's
    // words), which evicts those words into the global table. A sum taken
    // while `steady` is quiet must be exactly 10 blocks: one that missed or
    // doubled a moved word would be off by 50 or more.
    let steady = Scope::new("steady");
    // Ten blocks of `steady` (the Vec holding them is in no scope).
    let base: Vec<Box<[u8; 48]>> = (0..10)
        .map(|_| steady.run(|| Box::new([0u8; 48])))
        .collect();
    let pool: Vec<Scope> = (0..64).map(|_| Scope::new("pool")).collect();
    let pool_ids: Vec<ScopeId> = pool.iter().map(Scope::id).collect();
    // Per worker, an inbox of `pool` blocks and one of `steady` blocks.
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..WORKERS)
        .map(|_| {
            let (pool_tx, pool_rx) = mpsc::channel::<Box<[u8]>>();
            let (steady_tx, steady_rx) = mpsc::channel::<Box<[u8; 48]>>();
            ((pool_tx, steady_tx), (pool_rx, steady_rx))
        })
        .unzip();
    let done = AtomicBool::new(false);
    // Odd while `steady` is quiet: the workers move it on before and after
    // each turn of allocating and freeing `steady` blocks.
    let phase = AtomicU64::new(1);
    let quit = AtomicBool::new(false);
    let turn = Barrier::new(WORKERS);
    std::thread::scope(|s| {
        let reader = s.spawn(|| {
            // The workers stop when the reader does, failed or not.
            let _stop = Stop(&done);
            let mut quiet = 0;
            while quiet < READS {
                let before = phase.load(Ordering::SeqCst);
                let h = heap(&steady);
                if before % 2 == 1 && phase.load(Ordering::SeqCst) == before {
                    assert_eq!(
                        (h.blocks, h.bytes),
                        (10, 480),
                        "a sum of a quiet `steady` while words move"
                    );
                    quiet += 1;
                }
            }
        });
        let workers: Vec<_> = receivers
            .into_iter()
            .enumerate()
            .map(|(i, (pool_inbox, steady_inbox))| {
                let (pool_next, steady_next) = senders[(i + 1) % WORKERS].clone();
                let (steady, pool) = (steady.id(), &pool_ids);
                let (turn, phase, done, quit) = (&turn, &phase, &done, &quit);
                // Moves `phase` on by one with every worker waiting; false
                // once the reader is done (decided once, for all).
                let step = move || {
                    if turn.wait().is_leader() {
                        quit.store(done.load(Ordering::SeqCst), Ordering::SeqCst);
                        phase.fetch_add(1, Ordering::SeqCst);
                    }
                    turn.wait();
                    !quit.load(Ordering::SeqCst)
                };
                s.spawn(move || {
                    while step() {
                        if i % 2 == 0 {
                            for _ in 0..50 {
                                // Sent with the scope left: the channel's
                                // own blocks are in no scope.
                                let block = {
                                    let _in = steady.enter();
                                    Box::new([0u8; 48])
                                };
                                steady_next.send(block).unwrap();
                            }
                        } else {
                            steady_inbox.iter().take(50).for_each(drop);
                        }
                        if !step() {
                            break;
                        }
                        for round in 0..100 {
                            let block = {
                                let _in = pool[(i * 17 + round) % pool.len()].enter();
                                vec![0u8; 1 + round % 100].into_boxed_slice()
                            };
                            pool_next.send(block).unwrap();
                            pool_inbox.try_iter().for_each(drop);
                        }
                    }
                    // Every worker left at the same step; the blocks still
                    // sent are freed once all have stopped sending.
                    turn.wait();
                    pool_inbox.try_iter().for_each(drop);
                })
            })
            .collect();
        drop(senders);
        reader.join().unwrap();
        for w in workers {
            w.join().unwrap();
        }
    });
    assert_eq!((heap(&steady).blocks, heap(&steady).bytes), (10, 480));
    for (n, scope) in pool.iter().enumerate() {
        assert_eq!(heap(scope), Heap::default(), "pool scope {n}");
    }
    drop(base);
    assert_eq!(heap(&steady), Heap::default());
}

/// Sets its flag when dropped.
struct Stop<'a>(&'a AtomicBool);

impl Drop for Stop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
