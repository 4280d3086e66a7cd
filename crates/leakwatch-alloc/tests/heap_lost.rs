//! A scope whose count finds no room in the counting allocator's global
//! table loses it alone: other scopes, and later ones, keep exact counts.
//! (Its own process: it fills the table that every scope of the process
//! shares.)
#![cfg(any(debug_assertions, feature = "production"))]

use std::alloc::System;

use leakwatch_alloc::{Counting, Heap, heap_in};
use leakwatch_core::{Scope, ScopeId};

#[global_allocator]
static A: Counting<System> = Counting::new(System);

/// Past the global table's 65,536 slots: a scope must lose its count
/// before this many are kept.
const MOST: usize = 70_000;
/// Scopes whose blocks are freed to make room again.
const FREED: usize = 10_000;

fn exact(id: ScopeId, size: usize) -> bool {
    heap_in(&[id]).is_some_and(|h| (h.blocks, h.bytes) == (1, size as u64))
}

#[test]
fn a_scope_that_finds_no_slot_loses_its_count_alone() {
    // One block kept per scope, all on this thread: each new scope evicts
    // the oldest of the thread's 32 words into the global table, until the
    // table has no room for one.
    let mut kept: Vec<(ScopeId, Box<[u8]>)> = Vec::with_capacity(MOST);
    let mut lost = None;
    for n in 0..MOST {
        let scope = Scope::new("kept");
        let size = 1 + n % 200;
        let block = scope.run(|| Box::<[u8]>::from(vec![0u8; size]));
        kept.push((scope.id(), block));
        if heap_in(&[scope.id()]).is_none() {
            lost = Some(n);
            break;
        }
    }
    let lost = lost.expect("70,000 kept scopes overflow 65,536 slots");
    assert!(
        lost > 32_768,
        "lost a count with the table half empty: {lost}"
    );
    for (n, (id, block)) in kept[..lost].iter().enumerate() {
        assert!(exact(*id, block.len()), "scope {n} of {lost}");
    }
    // Freeing blocks makes room: their scopes go back to zero, and a new
    // scope counts again. The lost scope stays lost rather than wrong.
    let rest = kept.split_off(FREED);
    let freed: Vec<ScopeId> = kept.iter().map(|(id, _)| *id).collect();
    drop(kept);
    for (n, id) in freed.iter().enumerate() {
        assert_eq!(heap_in(&[*id]), Some(Heap::default()), "freed scope {n}");
    }
    let later = Scope::new("later");
    let block = later.run(|| vec![0u8; 9]);
    assert!(exact(later.id(), 9), "a scope after room was made");
    // Escaped, so that the free is not moved past the count below.
    drop(std::hint::black_box(block));
    assert_eq!(heap_in(&[later.id()]), Some(Heap::default()));
    let ids: Vec<ScopeId> = rest.iter().map(|(id, _)| *id).collect();
    drop(rest);
    for (n, id) in ids.iter().enumerate() {
        let n = n + FREED;
        let want = (n != lost).then_some(Heap::default());
        assert_eq!(heap_in(&[*id]), want, "scope {n}");
    }
}
