//! `LEAKWATCH`: a bad value fails every check with an error naming it; `off`
//! records nothing. Each case runs this test binary again as a child process
//! with the variable set, since the level is read once per process.

use std::process::Command;

use leakwatch::{Scope, Tag};

/// Runs `test` of this binary in a child with `LEAKWATCH=value`.
fn run_child(test: &str, value: &str) -> (bool, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("LEAKWATCH", value)
        .env("LEAKWATCH_CHILD", "1")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn in_child() -> bool {
    std::env::var_os("LEAKWATCH_CHILD").is_some()
}

#[test]
fn child_clean_check() {
    if !in_child() {
        return;
    }
    let scope = Scope::new("clean-child");
    scope.run(|| drop(Tag::new("file")));
    println!("level={}", leakwatch::level());
    scope.check().unwrap();
}

#[test]
fn child_leaky_check() {
    if !in_child() {
        return;
    }
    let scope = Scope::new("leaky-child");
    let tag = scope.run(|| Tag::new("file"));
    scope.check().unwrap();
    drop(tag);
}

#[test]
fn unknown_value_fails_the_check_naming_it() {
    let (ok, text) = run_child("child_clean_check", "stack");
    assert!(!ok, "{text}");
    assert!(
        text.contains("LEAKWATCH=`stack` is not valid: expected one of `off`, `sites`, `stacks`"),
        "{text}"
    );
}

#[test]
fn unknown_grace_fails_the_check_naming_it() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_clean_check",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("LEAKWATCH_GRACE", "a while")
        .env("LEAKWATCH_CHILD", "1")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("LEAKWATCH_GRACE=`a while` is not valid"),
        "{text}"
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
