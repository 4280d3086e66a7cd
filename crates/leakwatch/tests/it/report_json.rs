//! The JSON form of a report (feature `json`).

#![cfg(feature = "json")]

use leakwatch::{Scope, Tag};

#[test]
fn json_report_names_kind_site_and_detail() {
    let scope = Scope::new("json");
    let (tags, line) = scope.run(|| {
        let line = line!() + 1;
        let tags: Vec<_> = (0..2).map(|i| Tag::with_detail("db-conn", i)).collect();
        (tags, line)
    });
    let report = scope.check_now().unwrap_err();
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["version"], leakwatch::integration::REPORT_JSON_VERSION);
    assert_eq!(json["scope_name"], "json");
    assert_eq!(json["total"], 2);
    assert!(json["error"].is_null());
    let group = &json["groups"][0];
    assert_eq!(group["kind"], "db-conn");
    assert_eq!(group["finding"], "still-open");
    assert_eq!(group["line"], line);
    assert_eq!(group["file"], file!());
    assert_eq!(group["count"], 2);
    // One detail per item, in no promised order.
    let mut details: Vec<&str> = group["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    details.sort_unstable();
    assert_eq!(details, ["0", "1"]);
    drop(tags);
}
