//! Where tracking is compiled out (release builds without `production`),
//! nothing is recorded and `support` says why.
#![cfg(not(any(debug_assertions, feature = "production")))]

use leakwatch_core::Scope;
use leakwatch_interpose::{Support, counts_in, open_in, support};

#[test]
fn nothing_is_recorded_and_support_says_why() {
    let Support::Unavailable(why) = support() else {
        panic!("compiled out, yet active");
    };
    assert!(why.contains("compiled out"), "{why}");
    let scope = Scope::new("s");
    let kept = scope.run(|| std::fs::File::open("Cargo.toml").unwrap());
    assert!(open_in(&[scope.id()]).is_empty());
    assert_eq!(counts_in(&[scope.id()]).total(), 0);
    drop(kept);
}
