//! The counting allocator charges each block to the scope current when it
//! was allocated, wherever it is freed.
#![cfg(any(debug_assertions, feature = "production"))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, mpsc};

use leakwatch_core::{Scope, ScopeId};
use leakwatch_interpose::{Counting, Heap, heap_in};

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

/// Threads in the stress test, and the blocks each may have sent that the
/// next has not freed yet (its channel's capacity, and one in hand).
const WORKERS: usize = 4;
const IN_FLIGHT: u64 = 16 + 1;
/// Sums the stress test's reader takes while the workers run.
const READS: usize = 20_000;

#[test]
fn a_sum_taken_while_threads_move_their_words_is_exact() {
    // Every round, each worker allocates a block in a scope of `pool`, the
    // even ones one in `steady` too, and sends them to the next worker,
    // which frees them: the even workers' words for `steady` grow to +n
    // and the odd ones' to −n, and the pool's 64 scopes, twice a shard's
    // words, make every worker evict words into the global table all the
    // while. A sum that missed or doubled a moved word would be off by far
    // more than the blocks in flight.
    let steady = Scope::new("steady");
    // Ten blocks of `steady` (the Vec holding them is in no scope).
    let base: Vec<Box<[u8; 48]>> = (0..10)
        .map(|_| steady.run(|| Box::new([0u8; 48])))
        .collect();
    let pool: Vec<Scope> = (0..64).map(|_| Scope::new("pool")).collect();
    let pool_ids: Vec<ScopeId> = pool.iter().map(Scope::id).collect();
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..WORKERS)
        .map(|_| mpsc::sync_channel::<(Option<Box<[u8; 48]>>, Box<[u8]>)>(16))
        .unzip();
    let done = AtomicBool::new(false);
    let finished = Barrier::new(WORKERS);
    std::thread::scope(|s| {
        let reader = s.spawn(|| {
            // The workers stop when the reader does, failed or not.
            let _stop = Stop(&done);
            for _ in 0..READS {
                let h = heap(&steady);
                assert!(
                    (10..=10 + WORKERS as u64 * IN_FLIGHT).contains(&h.blocks)
                        && h.bytes == h.blocks * 48,
                    "a sum of `steady` while words move: {h:?}"
                );
                // Moves wait while a sum runs: leave room for them.
                (0..1_000).for_each(|_| std::hint::spin_loop());
            }
        });
        let workers: Vec<_> = receivers
            .into_iter()
            .enumerate()
            .map(|(i, inbox)| {
                let next = senders[(i + 1) % WORKERS].clone();
                let (steady, pool, finished, done) = (steady.id(), &pool_ids, &finished, &done);
                s.spawn(move || {
                    for round in (0..).take_while(|_| !done.load(Ordering::Relaxed)) {
                        let pair = (
                            (i % 2 == 0).then(|| {
                                let _in = steady.enter();
                                Box::new([0u8; 48])
                            }),
                            {
                                let _in = pool[(i * 17 + round) % pool.len()].enter();
                                vec![0u8; 1 + round % 100].into_boxed_slice()
                            },
                        );
                        // A full channel: freed here instead.
                        drop(next.try_send(pair));
                        while let Ok(pair) = inbox.try_recv() {
                            drop(pair);
                        }
                    }
                    finished.wait();
                    while let Ok(pair) = inbox.try_recv() {
                        drop(pair);
                    }
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
