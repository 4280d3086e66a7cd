//! Once warm, taking a stack at creation allocates nothing: a file opened
//! with stacks always on makes as many allocations as one with stacks off.
#![cfg(all(leakwatch_hooks, debug_assertions))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use leakwatch_core::Scope;
use leakwatch_interpose::{Stacks, open_in, set_stacks};

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// Counts the calling thread's allocations.
struct Counted;

// SAFETY: every call is passed to `System` unchanged.
unsafe impl GlobalAlloc for Counted {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTED: Counted = Counted;

#[inline(never)]
fn down(depth: usize, f: &mut dyn FnMut()) {
    if depth == 0 {
        f();
    } else {
        down(depth - 1, f);
    }
    std::hint::black_box(depth);
}

/// Allocations made by 20 opens and closes 35 frames down, in `scope`.
fn allocations_of_opens(scope: &Scope) -> u64 {
    let before = ALLOCATIONS.get();
    scope.run(|| {
        for _ in 0..20 {
            down(35, &mut || drop(std::fs::File::open("Cargo.toml").unwrap()));
        }
    });
    ALLOCATIONS.get() - before
}

#[test]
fn a_warm_capture_allocates_nothing() {
    let scope = Scope::new("alloc");
    set_stacks(Stacks::Always);
    // The first capture lists the loaded objects, which allocates.
    allocations_of_opens(&scope);
    let with = allocations_of_opens(&scope);
    set_stacks(Stacks::Never);
    let without = allocations_of_opens(&scope);
    set_stacks(Stacks::AtLevel);
    assert_eq!(with, without, "allocations with stacks and without");
    // The captures were taken: a kept file carries its stack.
    set_stacks(Stacks::Always);
    let mut kept = None;
    scope.run(|| {
        down(35, &mut || {
            kept = Some(std::fs::File::open("Cargo.toml").unwrap())
        })
    });
    set_stacks(Stacks::AtLevel);
    assert!(open_in(&[scope.id()]).fds[0].created.stack.len() > 35);
    drop(kept);
}
