//! `LEAKWATCH`: a bad value fails every check with an error naming it; `off`
//! records nothing. Each case runs this test binary again as a child process
//! with the variable set, since the level is read once per process.

mod support;

use leakwatch::{Scope, Tag};
use support::child;

/// Runs `test` of this binary in a child with `LEAKWATCH=value`.
fn run_child(test: &str, value: &str) -> (bool, String) {
    let run = child::run(module_path!(), test, &[("LEAKWATCH", value)]);
    (run.passed, run.output)
}

#[test]
#[ignore = "run by the tests below in a child process, with LEAKWATCH set"]
fn child_clean_check() {
    let scope = Scope::new("clean-child");
    scope.run(|| drop(Tag::new("file")));
    println!("level={}", leakwatch::level());
    scope.check_now().unwrap();
}

#[test]
#[ignore = "run by the tests below in a child process, with LEAKWATCH set"]
fn child_leaky_check() {
    let scope = Scope::new("leaky-child");
    let tag = scope.run(|| Tag::new("file"));
    scope.check_now().unwrap();
    drop(tag);
}

#[test]
fn unknown_value_fails_the_check_naming_it() {
    let (ok, text) = run_child("child_clean_check", "stack");
    assert!(!ok, "{text}");
    assert!(
        text.contains("LEAKWATCH=`stack` is not valid: expected one of `off`, `sampled`, `sampled:N`, `sites`, `stacks`"),
        "{text}"
    );
}

#[test]
fn unknown_grace_fails_the_check_naming_it() {
    let run = child::run(
        module_path!(),
        "child_clean_check",
        &[("LEAKWATCH_GRACE", "a while")],
    );
    assert!(!run.passed, "{}", run.output);
    assert!(
        run.output
            .contains("LEAKWATCH_GRACE=`a while` is not valid"),
        "{}",
        run.output
    );
}

#[test]
fn off_records_nothing() {
    let (ok, text) = run_child("child_leaky_check", "off");
    assert!(ok, "{text}");
}

#[test]
fn sites_and_stacks_are_accepted() {
    for value in ["sites", "stacks"] {
        let (ok, text) = run_child("child_clean_check", value);
        assert!(ok, "{value}: {text}");
        assert!(text.contains(&format!("level={value}")), "{text}");
    }
    let (ok, text) = run_child("child_leaky_check", "sites");
    assert!(
        !ok && text.contains("LEAK leakwatch: 1 item leaked in `leaky-child`"),
        "{text}"
    );
}
