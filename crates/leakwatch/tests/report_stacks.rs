//! `LEAKWATCH=stacks`: the report shows where each leaked item was opened,
//! with the user's frame first and leakwatch's own frames trimmed.
//!
//! This file is its own test binary, so switching the level here does not
//! affect other tests.

#![cfg(feature = "stacks")]

use leakwatch::fs::File;
use leakwatch::{Level, Scope};

#[inline(never)]
fn open_config_and_forget() {
    std::mem::forget(File::open("Cargo.toml").unwrap());
}

#[test]
fn stack_starts_at_the_users_frame() {
    leakwatch::set_level(Level::Stacks);
    let scope = Scope::new("stacks");
    scope.run(open_config_and_forget);
    let report = scope.check_now().unwrap_err();
    let frames = report.groups()[0]
        .stack()
        .expect("a stack was captured")
        .frames();
    assert!(
        frames[0]
            .function
            .ends_with("report_stacks::open_config_and_forget"),
        "{frames:#?}"
    );
    assert!(
        frames.iter().all(|f| !f.function.starts_with("leakwatch")
            && !f.function.starts_with("backtrace::")),
        "{frames:#?}"
    );
    assert!(
        frames
            .iter()
            .any(|f| f.function.ends_with("stack_starts_at_the_users_frame")),
        "{frames:#?}"
    );
    let text = report.to_string();
    assert!(
        text.contains("→ report_stacks::open_config_and_forget at "),
        "{text}"
    );
    assert!(
        !text.contains("LEAKWATCH=stacks for the full stack"),
        "{text}"
    );
}
