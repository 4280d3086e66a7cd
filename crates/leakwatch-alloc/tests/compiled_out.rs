//! Where tracking is compiled out (release builds without `production`),
//! `Counting` hands every call to the allocator it wraps and counts
//! nothing: `heap_in` answers `None` rather than zero.
#![cfg(not(any(debug_assertions, feature = "production")))]

use leakwatch_alloc::{Counting, heap_in};
use leakwatch_core::Scope;

#[global_allocator]
static A: Counting<std::alloc::System> = Counting::new(std::alloc::System);

#[test]
fn blocks_are_handed_through_and_not_counted() {
    let scope = Scope::new("s");
    let kept = scope.run(|| vec![7u8; 64]);
    assert_eq!(kept.iter().map(|&b| u64::from(b)).sum::<u64>(), 7 * 64);
    assert_eq!(heap_in(&[scope.id()]), None);
    drop(kept);
}
