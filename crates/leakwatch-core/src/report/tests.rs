use std::time::Duration;

use super::text::{Age, counted};
#[cfg(any(debug_assertions, feature = "production"))]
use crate::{Finding, Scope, Tag};

#[test]
fn ages_read_like_a_person_writes_them() {
    assert_eq!(Age(Duration::from_millis(850)).to_string(), "850ms");
    assert_eq!(Age(Duration::from_millis(3_240)).to_string(), "3.2s");
    assert_eq!(Age(Duration::from_secs(247)).to_string(), "4m07s");
    assert_eq!(Age(Duration::from_secs(7_980)).to_string(), "2h13m");
}

#[test]
fn counts_are_words() {
    assert_eq!(counted(1, "task"), "1 task");
    assert_eq!(counted(2, "task"), "2 tasks");
    assert_eq!(counted(3, "db-txn"), "3 db-txns");
    assert_eq!(counted(2, "box"), "2 boxes");
    assert_eq!(counted(0, "item"), "0 items");
    assert_eq!(counted(2, "child"), "2 children");
}

#[cfg(any(debug_assertions, feature = "production"))]
#[test]
fn every_line_of_a_failing_report_starts_with_leak() {
    let scope = Scope::new("multi-line");
    let tags = scope.run(|| {
        vec![
            Tag::with_detail("blob", "first line\nsecond line"),
            Tag::must_close("db-txn"),
        ]
    });
    let report = scope
        .check_now()
        .unwrap_err()
        .with_hint("a hint\nthat wraps");
    let text = report.to_string();
    for line in text.lines() {
        assert!(line.starts_with("LEAK"), "{line:?} in\n{text}");
    }
    assert!(
        text.contains("LEAK     first line\nLEAK     second line\n"),
        "{text}"
    );
    assert!(
        text.contains("LEAK leakwatch: a hint\nLEAK that wraps\n"),
        "{text}"
    );
    drop(tags);
}

#[cfg(any(debug_assertions, feature = "production"))]
#[test]
fn groups_by_site_with_counts_and_details() {
    let scope = Scope::new("grouping");
    let (line, tags) = scope.run(|| {
        let mut tags = Vec::new();
        let line = line!() + 2;
        for i in 0..5 {
            tags.push(Tag::with_detail("conn", format_args!("conn-{i}")));
        }
        tags.push(Tag::new("file"));
        (line, tags)
    });
    let report = scope.check_now().unwrap_err();
    assert_eq!(report.total(), 6);
    assert_eq!(report.groups().len(), 2);
    let conns = &report.groups()[0];
    assert_eq!((conns.kind(), conns.count()), ("conn", 5));
    assert_eq!(conns.site().file(), file!());
    assert_eq!(conns.site().line(), line);
    assert_eq!(conns.details().len(), super::group::SHOWN);
    assert_eq!(conns.more_details(), 2);
    assert_eq!(conns.finding(), Finding::StillOpen);

    let text = report.to_string();
    assert!(
        text.starts_with("LEAK leakwatch: 6 items leaked in `grouping` (2 sites)"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "LEAK   5 conns still open, opened at {}:{line}:",
            file!()
        )),
        "{text}"
    );
    assert!(text.contains("LEAK     … and 2 more\n"), "{text}");
    assert!(
        text.contains("LEAK   1 file still open, opened at "),
        "{text}"
    );
    for line in text.lines() {
        assert!(line.starts_with("LEAK "), "{line:?} in\n{text}");
    }
    drop(tags);
    assert!(scope.check_now().is_ok());
}

#[cfg(all(feature = "json", any(debug_assertions, feature = "production")))]
#[test]
fn json_has_every_field_of_a_group() {
    let scope = Scope::new("json");
    let tag = scope.run(|| Tag::with_detail("file", "/tmp/data.csv"));
    let json: serde_json::Value =
        serde_json::from_str(&scope.check_now().unwrap_err().to_json()).unwrap();
    assert_eq!(json["version"], crate::REPORT_JSON_VERSION);
    assert_eq!(json["scope_name"], "json");
    assert_eq!(json["total"], 1);
    let group = &json["groups"][0];
    assert_eq!(group["finding"], "still-open");
    assert_eq!(group["kind"], "file");
    assert_eq!(group["file"], file!());
    assert_eq!(group["details"][0], "/tmp/data.csv");
    assert_eq!(group["count"], 1);
    drop(tag);
}

#[cfg(all(feature = "json", any(debug_assertions, feature = "production")))]
#[test]
fn json_names_a_must_close_item_dropped_without_close() {
    let scope = Scope::new("json-unclosed");
    scope.run(|| drop(Tag::must_close("db-txn")));
    let json: serde_json::Value =
        serde_json::from_str(&scope.check_now().unwrap_err().to_json()).unwrap();
    let group = &json["groups"][0];
    assert_eq!(group["finding"], "dropped-without-close");
    assert_eq!(group["kind"], "db-txn");
}

#[cfg(any(debug_assertions, feature = "production"))]
#[test]
fn traces_attach_to_the_oldest_item_that_has_one_and_hints_close_the_text() {
    let scope = Scope::new("traced");
    let tasks: Vec<Tag> = scope.run(|| (0..3).map(|_| Tag::new("task")).collect());
    for (tag, id) in tasks.iter().zip([11, 12, 13]) {
        tag.set_id(id);
    }
    let report = scope
        .check_now()
        .unwrap_err()
        .with_traces(|id| (id != 11).then(|| format!("app::worker at src/w.rs:{id}:5")))
        .with_hint("turn on task dumps");
    let group = &report.groups()[0];
    assert_eq!(group.ids(), [11, 12, 13]);
    assert_eq!(group.waiting(), Some((12, "app::worker at src/w.rs:12:5")));
    let text = report.to_string();
    assert!(
        text.contains("LEAK     id 12 is waiting at:\nLEAK       app::worker at src/w.rs:12:5\n"),
        "{text}"
    );
    assert!(
        text.ends_with("LEAK leakwatch: turn on task dumps\n"),
        "{text}"
    );
    assert!(!text.contains("no await chain"), "{text}");
    let untraced = scope.check_now().unwrap_err().with_traces(|_| None);
    assert_eq!(untraced.groups()[0].waiting(), None);
    let text = untraced.to_string();
    assert!(!text.contains("waiting at"), "{text}");
    assert!(
        text.contains(
            "LEAK     no await chain in tokio's task dump: tokio traces a task only where it waits \
             on tokio's own leaf futures (channels, timers, I/O readiness, locks), and these wait \
             elsewhere\n"
        ),
        "{text}"
    );
    let never_traced = scope.check_now().unwrap_err();
    assert!(!never_traced.to_string().contains("no await chain"));
    drop(tasks);
}
