//! The counting allocator charges each block to the scope current when it
//! was allocated, wherever it is freed.
#![cfg(any(debug_assertions, feature = "production"))]

use std::alloc::{GlobalAlloc, Layout, System};

use leakwatch_core::Scope;
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
