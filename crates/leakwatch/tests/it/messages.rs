//! Every message in `docs/messages.md` is what the code prints.
//!
//! Each example there follows a `<!-- message: NAME -->` marker. The test for
//! NAME makes leakwatch print that message and checks that the example's
//! lines appear, one after another, in what was printed. Sites, durations,
//! ids, thread names and test paths differ from run to run, so both sides
//! have them replaced by placeholders first ([`normalize`]); every other
//! character must match. A change to a message fails here until the page
//! shows the new text.
//!
//! The attribute's compile errors are pinned by the trybuild tests in
//! `tests-build/tests/fail`: here each listed error must be one of theirs,
//! and each of theirs must be listed.

use std::path::Path;
use std::time::Duration;

use leakwatch::integration::{Ignored, Origin, ScopeId, Settings, Snapshot, parse_grace};
use leakwatch::{Ignore, Level, Scope, Tag};

#[cfg(feature = "tokio")]
use crate::support::child;
use crate::support::messages::{assert_shown, example, is_duration, normalize};

#[test]
fn normalize_replaces_only_what_differs_between_runs() {
    assert_eq!(
        normalize("LEAK   1 file still open, opened at src/db.rs:12:5 (oldest 2ms, thread 'main')"),
        "LEAK   1 file still open, opened at FILE:L:C (oldest DUR, thread 'T')"
    );
    assert_eq!(
        normalize("LEAK     'poller' (id 17)"),
        "LEAK     'poller' (id N)"
    );
    assert_eq!(
        normalize("in `tests::db::roundtrip` after 1.5s"),
        "in `PATH` after DUR"
    );
    assert_eq!(
        normalize("waited 4m07s, then 2h13m"),
        "waited DUR, then DUR"
    );
    assert_eq!(
        normalize("a 1 item leaked in `db_test`"),
        "a 1 item leaked in `db_test`"
    );
    assert!(!is_duration("ms") && !is_duration("s1") && !is_duration("3x"));
}

// ---- reports ----

#[test]
fn a_report() {
    let scope = Scope::new("db_test");
    let kept = scope.run(|| {
        let open = |i| Tag::with_detail("file", format_args!("/tmp/db-{i}"));
        let files: Vec<Tag> = (0..2).map(open).collect();
        drop(Tag::must_close("db-txn"));
        files
    });
    let report = scope.check_now().unwrap_err();
    assert_shown("report", &report.to_string());
    drop(kept);
    let clean = leakwatch::Report::new("db_test", &Snapshot::default());
    assert_shown("no-leaks", &clean.to_string());
}

#[test]
fn a_task_report() {
    let scope = Scope::new("server_test");
    let origin = Origin {
        site: std::panic::Location::caller(),
        scope: scope.id(),
        id: Some(17),
    };
    let task = Tag::with_origin("task", origin);
    let named = scope.run(|| Tag::with_detail("task", "'poller'"));
    named.set_id(18);
    let report = scope.check_now().unwrap_err();
    assert_shown("task-report", &report.to_string());
    drop((task, named));
    assert_eq!(ScopeId::current(), ScopeId::NONE);
}

#[test]
fn a_report_at_level_stacks_hint() {
    let scope = Scope::new("db_test");
    let kept = scope.run(|| Tag::new("file"));
    let report = scope.check_now().unwrap_err();
    if leakwatch::level() == Level::Sites {
        assert_shown("stacks-hint", &report.to_string());
    }
    drop(kept);
}

// ---- configuration errors ----

#[test]
fn bad_settings_name_the_value() {
    assert_shown(
        "bad-level",
        &"stack".parse::<Level>().unwrap_err().to_string(),
    );
    assert_shown("bad-grace", &parse_grace("soon").unwrap_err().to_string());
    assert_shown(
        "bad-ignore",
        &Ignore::parse("task").unwrap_err().to_string(),
    );
    assert_eq!(parse_grace("1.5s").unwrap(), Duration::from_millis(1500));
}

// The children are tests of `attribute`, which needs the `tokio` feature.
#[cfg(feature = "tokio")]
#[test]
fn a_bad_environment_is_printed_and_fails_every_check() {
    let name = "sync_test_that_forgets_a_file_fails";
    let run = child::run("it::attribute", name, &[("LEAKWATCH", "stack")]);
    assert!(!run.passed, "{}", run.output);
    assert_shown("bad-level-env", &run.output);
    assert_shown("bad-level-in-report", &run.output);

    let run = child::run("it::attribute", name, &[("LEAKWATCH_GRACE", "a while")]);
    assert!(!run.passed, "{}", run.output);
    assert_shown("bad-grace-in-report", &run.output);
}

// ---- the settings file ----

#[test]
fn what_the_settings_file_left_out() {
    let ignored = Ignored::new(".config/leakwatch.toml", 1, vec!["crate:bb8".into()]);
    let report =
        leakwatch::Report::new("pool_test", &Snapshot::default()).with_ignored(Some(ignored));
    assert_shown("settings-ignored", &report.to_string());
}

#[test]
fn settings_file_errors_name_file_line_and_key() {
    let file = ".config/leakwatch.toml";
    let mut printed: Vec<String> = [
        "grace = \"1s\"\nignored = []",
        "[detect]\nfds = true\nsockets = false",
        "ignore = [\"module:bb8\"]",
        "ignore = [\"crate:bb8, kind:task\"]",
        "grace = \"soon\"",
        "[detect]\nfds = \"no\"",
        "ignore = \"crate:bb8\"",
        "detect.counted-tasks = \"maybe\"",
        "ignore = [\"kind:task\"",
    ]
    .into_iter()
    .map(|text| Settings::parse(text, file).unwrap_err().to_string())
    .collect();
    let folder = tests_support::temp::temp_dir("messages");
    printed.push(Settings::read(&folder, file).unwrap_err().to_string());
    std::fs::remove_dir_all(&folder).unwrap();
    assert_shown("settings-errors", &printed.join("\n"));
}

#[cfg(all(feature = "macros", debug_assertions))]
#[test]
fn a_bad_settings_file_fails_a_clean_test() {
    use crate::settings_file::{package, run_in};

    let dir = package("messages-bad", Some("grace = \"1s\"\nignored = []\n"));
    let run = run_in(&dir, "stays_clean", &[]);
    assert!(!run.passed, "{}", run.output);
    assert_shown("settings-error-in-report", &run.output);
}

#[cfg(all(
    feature = "tokio",
    feature = "macros",
    debug_assertions,
    not(tokio_unstable)
))]
#[test]
fn counted_tasks_let_through_warn() {
    use crate::settings_file::{package, recipes, run_in};

    let dir = package("messages-counted", Some(recipes::BB8));
    let run = run_in(&dir, "recipes::drops_a_bb8_pool", &[]);
    assert!(run.passed, "{}", run.output);
    assert_shown("counted-tasks-warning", &run.output);
}

// ---- how a test fails ----

#[cfg(feature = "tokio")]
#[test]
fn a_leaking_test_that_returns_an_error() {
    let run = child::run(
        "it::attribute",
        "leaking_test_that_returns_an_error_fails_with_both",
        &[],
    );
    assert!(!run.passed, "{}", run.output);
    assert_shown("also-returned-an-error", &run.output);
}

#[cfg(feature = "tokio")]
#[test]
fn a_leaking_should_panic_test() {
    let run = child::run("it::attribute", "leaking_should_panic_test_fails", &[]);
    assert!(!run.passed, "{}", run.output);
    assert_shown("should-panic", &run.output);
    let run = child::run(
        "it::attribute",
        "leaking_should_panic_test_that_panics_fails",
        &[],
    );
    assert!(!run.passed, "{}", run.output);
    assert_shown("should-panic-and-panicked", &run.output);
}

#[cfg(all(feature = "tokio", not(tokio_unstable)))]
#[test]
fn a_test_leaving_an_untracked_task() {
    let run = child::run(
        "it::attribute",
        "untracked_task_still_running_fails_without_a_site",
        &[],
    );
    assert!(!run.passed, "{}", run.output);
    assert_shown("untracked-tasks", &run.output);
}

// ---- the attribute's compile errors ----

/// The `error: ..` lines of the trybuild pins in `tests-build/tests/fail`.
fn pinned_attribute_errors() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests-build/tests/fail");
    let mut errors = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "stderr") {
            let text = std::fs::read_to_string(&path).unwrap();
            errors.extend(
                text.lines()
                    .filter(|l| l.starts_with("error: "))
                    .map(str::to_owned),
            );
        }
    }
    errors.sort();
    errors.dedup();
    errors
}

#[test]
fn every_attribute_error_is_listed_and_pinned() {
    let pinned = pinned_attribute_errors();
    assert!(!pinned.is_empty(), "no trybuild pins found");
    let listed: Vec<&str> = example("attribute-errors")
        .into_iter()
        .filter(|l| l.starts_with("error: "))
        .collect();
    for error in &pinned {
        assert!(
            listed.contains(&error.as_str()),
            "`{error}` is pinned in tests-build but not listed in docs/messages.md"
        );
    }
    for error in &listed {
        assert!(
            pinned.iter().any(|p| p == error),
            "`{error}` is listed in docs/messages.md but no trybuild test pins it"
        );
    }
    // The example with its span is one of the pins, whole.
    let with_span = example("attribute-error-example").join("\n");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests-build/tests/fail");
    let pinned_with_span = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
        .any(|text| text.contains(&with_span));
    assert!(
        pinned_with_span,
        "docs/messages.md's `attribute-error-example` is not in any .stderr:\n{with_span}"
    );
}

// ---- the settings table ----

/// The rows of the page's settings table: each row's first cell (the
/// settings it names) and its last (the messages that show its errors).
fn settings_rows() -> Vec<(Vec<String>, Vec<String>)> {
    const PAGE: &str = include_str!("../../docs/messages.md");
    let (_, after) = PAGE
        .split_once("<!-- settings -->")
        .expect("docs/messages.md has no settings table");
    let ticked = |cell: &str| -> Vec<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    };
    after
        .lines()
        .skip(3) // the marker's line end, the header, the rule
        .take_while(|l| l.starts_with('|'))
        .map(|row| {
            let cells: Vec<&str> = row.trim_matches('|').split('|').collect();
            (ticked(cells[0]), ticked(cells[cells.len() - 1]))
        })
        .collect()
}

/// Every environment variable leakwatch reads and every argument of the
/// attribute has a row, and every row names messages the page shows.
#[test]
fn the_settings_table_names_every_setting_and_its_error() {
    let rows = settings_rows();
    let named: Vec<&str> = rows
        .iter()
        .flat_map(|(n, _)| n)
        .map(String::as_str)
        .collect();
    for variable in [
        "LEAKWATCH",
        "LEAKWATCH_GRACE",
        "LEAKWATCH_DETECT",
        "LEAKWATCH_HELD",
        "LEAKWATCH_PRELOAD_LIB",
        ".config/leakwatch.toml",
    ] {
        assert!(
            named.contains(&variable),
            "no row for `{variable}`: {named:?}"
        );
    }
    // The attribute's keys, as its "unknown key" error lists them.
    let stderr = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests-build/tests/fail/unknown_keys.stderr"),
    )
    .unwrap();
    let (_, keys) = stderr
        .split_once("expected one of ")
        .expect("the unknown-key error lists the keys");
    let keys = keys.lines().next().unwrap();
    for key in keys.split(", ").map(|k| k.trim_matches('`')) {
        assert!(
            named.contains(&key),
            "no row for the attribute's `{key}`: {named:?}"
        );
    }
    for (settings, messages) in &rows {
        assert!(!messages.is_empty(), "{settings:?} names no message");
        for message in messages {
            // Panics naming the marker when the page has no such example.
            assert!(!example(message).is_empty(), "`{message}` is empty");
        }
    }
}

#[test]
fn bad_watchdog_thresholds_and_sampling_are_shown() {
    #[cfg(feature = "watchdog")]
    {
        let shown: Vec<String> = ["db-conn=10ms", "db-conn", "db-conn=soon"]
            .iter()
            .map(|bad| {
                bad.parse::<leakwatch::watchdog::Thresholds>()
                    .unwrap_err()
                    .to_string()
            })
            .collect();
        assert_shown("bad-held", &shown.join("\n"));
    }
    assert_shown(
        "bad-sampled",
        &"sampled:0".parse::<Level>().unwrap_err().to_string(),
    );
}

#[cfg(feature = "tokio")]
#[test]
fn a_bad_detect_setting_fails_the_check() {
    let name = "sync_test_that_forgets_a_file_fails";
    let run = child::run("it::attribute", name, &[("LEAKWATCH_DETECT", "sockets")]);
    assert!(!run.passed, "{}", run.output);
    assert_shown("bad-detect", &run.output);
}
