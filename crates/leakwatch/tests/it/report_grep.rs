//! `grep '^LEAK'` of a CI log gives back the whole report of a failing
//! test: every line of it, details, ids, chains and advice included.
//!
//! Each check runs a leaking test of this file in a child process (the test
//! binary itself, with `RUST_BACKTRACE=1` as CI sets it), takes the report
//! out of the panic message, and compares it with the lines of the child's
//! whole output that start with `LEAK`.

use crate::support::child;

/// The output of this binary's ignored test `name`, run alone.
fn run_child(name: &str) -> String {
    let run = child::run(module_path!(), name, &[]);
    assert!(!run.passed, "{name} must fail");
    run.output
}

/// The report in a child's panic message: the lines after `panicked at`
/// up to the backtrace (or the end of the message).
fn report_in(output: &str) -> Vec<&str> {
    let mut lines = output.lines();
    lines
        .by_ref()
        .find(|l| l.contains("panicked at"))
        .unwrap_or_else(|| panic!("no panic in:\n{output}"));
    lines
        .take_while(|l| {
            !l.is_empty() && !l.starts_with("stack backtrace:") && !l.starts_with("note:")
        })
        .collect()
}

/// Checks that grepping `^LEAK` out of the output of `name` gives its
/// report whole, and returns that report.
fn grep_reproduces_the_report(name: &str) -> String {
    let output = run_child(name);
    let report = report_in(&output);
    assert!(report.len() > 2, "{output}");
    let grepped: Vec<&str> = output.lines().filter(|l| l.starts_with("LEAK")).collect();
    assert_eq!(
        grepped, report,
        "grep '^LEAK' lost or added lines:\n{output}"
    );
    report.join("\n")
}

#[test]
fn grep_finds_every_line_of_a_failing_tests_report() {
    let report = grep_reproduces_the_report("leaks_files_and_tags");
    for detail in [
        "LEAK     first line of a detail",
        "LEAK     second line of a detail",
        "LEAK     … and 1 more",
        "LEAK   1 db-txn dropped without close, opened at crates/leakwatch/tests/it/report_grep.rs:",
        "LEAK leakwatch: run with LEAKWATCH=stacks for the full stack of each site",
    ] {
        assert!(report.contains(detail), "{detail:?} in\n{report}");
    }
    assert!(report.contains("LEAK     /"), "a file's path: {report}");
    assert!(report.contains("report_grep-"), "{report}");
}

#[ignore = "run in a child process by grep_finds_every_line_of_a_failing_tests_report"]
#[leakwatch::test(grace = "10ms")]
fn leaks_files_and_tags() {
    let path = tests_support::temp::temp_path("report_grep");
    std::fs::write(&path, "x").unwrap();
    std::mem::forget(leakwatch::fs::File::open(&path).unwrap());
    std::mem::forget(leakwatch::Tag::with_detail(
        "blob",
        "first line of a detail\nsecond line of a detail",
    ));
    for i in 0..4 {
        std::mem::forget(leakwatch::Tag::with_detail(
            "conn",
            format_args!("conn #{i}"),
        ));
    }
    drop(leakwatch::Tag::must_close("db-txn"));
}

#[cfg(feature = "tokio")]
#[test]
fn grep_finds_every_line_of_a_leaked_tasks_report() {
    let report = grep_reproduces_the_report("leaks_a_task");
    assert!(
        report.contains(
            "LEAK   1 task still open, spawned at crates/leakwatch/tests/it/report_grep.rs:"
        ),
        "{report}"
    );
    assert!(report.contains("LEAK     'stuck' (id "), "{report}");
    if leakwatch::tokio::dump::AVAILABLE {
        assert!(
            report.contains("is waiting at:\nLEAK       → it::report_grep::"),
            "{report}"
        );
    } else {
        assert!(
            report.contains("LEAK leakwatch: build with RUSTFLAGS=\"--cfg tokio_unstable\""),
            "{report}"
        );
    }
}

#[cfg(feature = "tokio")]
#[ignore = "run in a child process by grep_finds_every_line_of_a_leaked_tasks_report"]
#[leakwatch::test(grace = "10ms")]
async fn leaks_a_task() {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(1);
    leakwatch::tokio::Builder::new()
        .name("stuck")
        .spawn(async move { while rx.recv().await.is_some() {} })
        .unwrap();
    std::mem::forget(tx);
}

/// Without `--cfg tokio_unstable`, tasks spawned with plain tokio have no
/// record: the message says first how to get their sites whoever spawned
/// them, then what the test can do for its own, each line greppable.
#[cfg(all(feature = "tokio", not(tokio_unstable)))]
#[test]
fn the_untracked_tasks_message_leads_with_the_build_flag() {
    let output = run_child("leaves_plain_tasks_running");
    let report = report_in(&output);
    let grepped: Vec<&str> = output.lines().filter(|l| l.starts_with("LEAK")).collect();
    assert_eq!(grepped, report, "{output}");
    assert_eq!(report.len(), 3, "{output}");
    assert!(
        report[0].starts_with(
            "LEAK leakwatch: 2 tasks still running on the runtime of `it::report_grep::leaves_plain_tasks_running` after "
        ),
        "{output}"
    );
    assert!(
        report[1].starts_with("LEAK leakwatch: build with RUSTFLAGS=\"--cfg tokio_unstable\" to see each task's spawn site"),
        "{output}"
    );
    assert!(report[2].contains("leakwatch::tokio::spawn"), "{output}");
    assert!(!report[0].contains("(s)"), "{output}");
}

#[cfg(all(feature = "tokio", not(tokio_unstable)))]
#[ignore = "run in a child process by the_untracked_tasks_message_leads_with_the_build_flag"]
#[leakwatch::test(grace = "10ms")]
async fn leaves_plain_tasks_running() {
    drop(tokio::spawn(std::future::pending::<()>()));
    drop(tokio::spawn(std::future::pending::<()>()));
}
