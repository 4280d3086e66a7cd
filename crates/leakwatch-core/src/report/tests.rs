use std::time::Duration;

use super::text::Age;
#[cfg(any(debug_assertions, feature = "production"))]
use crate::{Problem, Scope, Tag};

#[test]
fn ages_read_like_a_person_writes_them() {
    assert_eq!(Age(Duration::from_millis(850)).to_string(), "850ms");
    assert_eq!(Age(Duration::from_millis(3_240)).to_string(), "3.2s");
    assert_eq!(Age(Duration::from_secs(247)).to_string(), "4m07s");
    assert_eq!(Age(Duration::from_secs(7_980)).to_string(), "2h13m");
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
    let report = scope.check().unwrap_err();
    assert_eq!(report.total(), 6);
    assert_eq!(report.groups().len(), 2);
    let conns = &report.groups()[0];
    assert_eq!((conns.kind(), conns.count()), ("conn", 5));
    assert_eq!(conns.site().file(), file!());
    assert_eq!(conns.site().line(), line);
    assert_eq!(conns.details().len(), super::group::SHOWN);
    assert_eq!(conns.more_details(), 2);
    assert_eq!(conns.problem(), Problem::StillOpen);

    let text = report.to_string();
    assert!(
        text.starts_with("LEAK leakwatch: 6 items leaked in `grouping` (2 sites)"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "LEAK   5 × conn still open, opened at {}:{line}:",
            file!()
        )),
        "{text}"
    );
    assert!(text.contains("… and 2 more"), "{text}");
    drop(tags);
    assert!(scope.check().is_ok());
}

#[cfg(all(feature = "json", any(debug_assertions, feature = "production")))]
#[test]
fn json_has_every_field_of_a_group() {
    let scope = Scope::new("json");
    let tag = scope.run(|| Tag::with_detail("file", "/tmp/data.csv"));
    let json: serde_json::Value =
        serde_json::from_str(&scope.check().unwrap_err().to_json()).unwrap();
    assert_eq!(json["scope"], "json");
    assert_eq!(json["total"], 1);
    let group = &json["groups"][0];
    assert_eq!(group["problem"], "still-open");
    assert_eq!(group["kind"], "file");
    assert_eq!(group["file"], file!());
    assert_eq!(group["details"][0], "/tmp/data.csv");
    assert_eq!(group["count"], 1);
    drop(tag);
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
        .check()
        .unwrap_err()
        .with_traces(|id| (id != 11).then(|| format!("app::worker at src/w.rs:{id}:5")))
        .with_hint("turn on task dumps");
    let group = &report.groups()[0];
    assert_eq!(group.ids(), [11, 12, 13]);
    assert_eq!(group.waiting(), Some((12, "app::worker at src/w.rs:12:5")));
    let text = report.to_string();
    assert!(
        text.contains("         id 12 is waiting at:\n           app::worker at src/w.rs:12:5\n"),
        "{text}"
    );
    assert!(text.ends_with("leakwatch: turn on task dumps\n"), "{text}");
    let untraced = scope.check().unwrap_err().with_traces(|_| None);
    assert_eq!(untraced.groups()[0].waiting(), None);
    assert!(!untraced.to_string().contains("waiting"));
    drop(tasks);
}
