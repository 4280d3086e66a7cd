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
