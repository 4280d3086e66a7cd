//! Sizes: with tracking compiled out (release without `production`), tracked
//! types are exactly the size of what they wrap.
//!
//! `cargo test` checks the tracking build; CI also runs
//! `cargo test --release -p leakwatch --test zero_cost`, the compiled-out one.

use std::mem::size_of;

use leakwatch::{Tag, Tracked};

#[test]
fn sizes_match_the_build() {
    if leakwatch::integration::COMPILED_IN {
        assert_eq!(size_of::<Tag>(), 16);
        assert_eq!(size_of::<Tracked<u64>>(), 8 + 16);
    } else {
        assert_eq!(size_of::<Tag>(), 0);
        assert_eq!(size_of::<Tracked<u64>>(), size_of::<u64>());
        assert_eq!(size_of::<leakwatch::fs::File>(), size_of::<std::fs::File>());
        assert_eq!(
            size_of::<leakwatch::net::TcpStream>(),
            size_of::<std::net::TcpStream>()
        );
        assert_eq!(
            size_of::<leakwatch::net::Incoming<'static>>(),
            size_of::<std::net::Incoming<'static>>()
        );
        assert_eq!(size_of::<Tracked<[u8; 3]>>(), 3);
        assert_eq!(
            size_of::<Option<leakwatch::fs::File>>(),
            size_of::<Option<std::fs::File>>()
        );
    }
}

#[test]
fn compiled_in_follows_the_profile() {
    assert_eq!(
        leakwatch::integration::COMPILED_IN,
        cfg!(debug_assertions) || cfg!(feature = "production")
    );
}

#[test]
fn compiled_out_checks_pass_and_record_nothing() {
    let scope = leakwatch::Scope::new("zero");
    let tag = scope.run(|| Tag::new("file"));
    assert_eq!(tag.is_tracked(), leakwatch::integration::COMPILED_IN);
    assert_eq!(
        scope.check_now().is_ok(),
        !leakwatch::integration::COMPILED_IN
    );
    drop(tag);
}

/// Compiled out, a hunt runs its rounds and says what it could not
/// measure rather than calling them clean.
#[test]
fn a_compiled_out_hunt_says_what_it_could_not_measure() {
    let mut rounds = 0;
    let hunt = leakwatch::hunt(1, 2, || rounds += 1).unwrap();
    assert_eq!(rounds, 3);
    if !leakwatch::integration::COMPILED_IN {
        let report = hunt.to_string();
        assert!(
            report.contains(
                "threads, fds and children outside leakwatch's wrappers were not measured"
            ),
            "{report}"
        );
    }
}
