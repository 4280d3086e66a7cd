//! `LEAKWATCH=sampled`: one item in N recorded, whole or not at all. Its
//! own test binary: the level is process-wide.

use std::num::NonZeroU32;
use std::sync::Mutex;

use leakwatch_core::{Level, Scope, Tag, set_level};

/// The tests here switch the process's level: one at a time.
static LEVEL: Mutex<()> = Mutex::new(());

fn one_in(n: u32) -> Level {
    Level::Sampled(NonZeroU32::new(n).unwrap())
}

#[test]
fn sampled_levels_parse_and_print_as_written() {
    assert_eq!("sampled".parse::<Level>().unwrap(), one_in(128));
    assert_eq!("sampled:1".parse::<Level>().unwrap(), one_in(1));
    assert_eq!(one_in(64).to_string(), "sampled:64");
    for bad in ["sampled:0", "sampled:x", "sampled:", "sampled:-3"] {
        let err = bad.parse::<Level>().unwrap_err();
        assert_eq!(err.value(), bad);
        assert!(
            err.to_string().contains("`sampled:N` takes a whole number"),
            "{err}"
        );
    }
}

#[test]
fn about_one_item_in_n_is_recorded_each_whole() {
    if !leakwatch_core::COMPILED_IN {
        return;
    }
    let _one_at_a_time = LEVEL.lock().unwrap();
    set_level(one_in(16));
    let scope = Scope::new("sampled");
    let tags: Vec<Tag> = scope.run(|| (0..16_000).map(|i| Tag::with_detail("conn", i)).collect());
    set_level(Level::Sites);
    let tracked: Vec<&Tag> = tags.iter().filter(|t| t.is_tracked()).collect();
    // Binomial(16,000, 1/16): mean 1,000, standard deviation 30.6; the
    // bounds are 5 deviations out (a false failure once in 3.5 million).
    assert!(
        (847..=1_153).contains(&tracked.len()),
        "{} recorded",
        tracked.len()
    );
    // Those recorded are whole (kind, detail, site); the others not at all.
    let snapshot = scope.snapshot();
    assert_eq!(snapshot.len(), tracked.len());
    assert!(snapshot.items().iter().all(|item| item.kind() == "conn"
        && item.detail().is_some_and(|d| d.parse::<u32>().is_ok())
        && item.site().file() == file!()));
    drop(tags);
    assert!(scope.check().is_ok());
}

#[test]
fn a_steady_leak_is_found_while_sampling() {
    if !leakwatch_core::COMPILED_IN {
        return;
    }
    let _one_at_a_time = LEVEL.lock().unwrap();
    set_level(one_in(128));
    let scope = Scope::new("steady leak");
    // One connection leaked per request, 2,000 requests: none of them
    // recorded with probability (127/128)^2000 = 1.6e-7.
    scope.run(|| {
        for _ in 0..2_000 {
            std::mem::forget(Tag::new("db-conn"));
        }
    });
    set_level(Level::Sites);
    let report = scope.check().unwrap_err();
    assert!(report.total() >= 1);
    assert_eq!(report.groups()[0].kind(), "db-conn");
}

#[test]
fn the_level_switches_while_running() {
    if !leakwatch_core::COMPILED_IN {
        return;
    }
    let _one_at_a_time = LEVEL.lock().unwrap();
    set_level(Level::Off);
    assert!(!Tag::new("x").is_tracked());
    set_level(one_in(1));
    assert!(Tag::new("x").is_tracked(), "one in one is every item");
    set_level(Level::Sites);
    assert!(Tag::new("x").is_tracked());
}
