//! Where tracking is compiled out (release builds without `production`),
//! nothing is recorded, `support` says why, and `Counting` hands every
//! call to the allocator it wraps.
#![cfg(not(any(debug_assertions, feature = "production")))]

use leakwatch_core::Scope;
use leakwatch_interpose::{Counting, Support, counts_in, heap_in, hunt, open_in, support};

#[global_allocator]
static A: Counting<std::alloc::System> = Counting::new(std::alloc::System);

#[test]
fn nothing_is_recorded_and_support_says_why() {
    let Support::Unavailable(why) = support() else {
        panic!("compiled out, yet active");
    };
    assert!(why.contains("compiled out"), "{why}");
    let scope = Scope::new("s");
    let kept = scope.run(|| (std::fs::File::open("Cargo.toml").unwrap(), vec![0u8; 64]));
    assert!(open_in(&[scope.id()]).is_empty());
    assert_eq!(counts_in(&[scope.id()]).total(), 0);
    assert_eq!(heap_in(&[scope.id()]), None);
    drop(kept);
}

#[test]
fn a_hunt_says_what_it_could_not_measure() {
    let report = hunt(0, 2, || {}).unwrap().to_string();
    assert!(report.contains("not measured"), "{report}");
}
