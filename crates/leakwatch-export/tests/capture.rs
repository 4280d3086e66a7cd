//! Captures: filtering, diffs by site and the JSON form.

use std::time::Duration;

use leakwatch_core::{Scope, Tag};
use leakwatch_export::{Capture, Diff, Filter, ReadErrorKind};

fn kinds(capture: &Capture, prefix: &str) -> Vec<String> {
    let mut kinds: Vec<String> = capture
        .entries()
        .iter()
        .map(|e| e.kind().to_owned())
        .filter(|k| k.starts_with(prefix))
        .collect();
    kinds.sort();
    kinds
}

#[test]
fn filters_by_kind_scope_site_and_age() {
    let job = Scope::new("job");
    let (in_job, line) = job.run(|| (Tag::new("filter-a"), line!()));
    let outside = Tag::new("filter-b");
    let now = Capture::now();

    assert_eq!(
        kinds(&Filter::new().kind("filter-a").apply(&now), "filter-"),
        ["filter-a"]
    );
    assert_eq!(
        kinds(
            &Filter::new().kind("filter-a").kind("filter-b").apply(&now),
            "filter-"
        ),
        ["filter-a", "filter-b"]
    );
    assert_eq!(
        kinds(&Filter::new().scope(job.id()).apply(&now), "filter-"),
        ["filter-a"]
    );
    let here = format!("{}:{line}", file!());
    assert_eq!(
        kinds(&Filter::new().site(&here).apply(&now), "filter-"),
        ["filter-a"]
    );
    // The file's trailing components, and the file alone, match too.
    assert_eq!(
        kinds(
            &Filter::new()
                .site(&format!("capture.rs:{line}"))
                .apply(&now),
            "filter-"
        ),
        ["filter-a"]
    );
    assert_eq!(
        kinds(&Filter::new().site(file!()).apply(&now), "filter-"),
        ["filter-a", "filter-b"]
    );
    assert!(kinds(&Filter::new().site("apture.rs").apply(&now), "filter-").is_empty());
    assert!(
        kinds(
            &Filter::new()
                .site(&format!("{}:{}", file!(), line + 1000))
                .apply(&now),
            "filter-"
        )
        .is_empty()
    );
    // Nothing here is an hour old.
    assert!(
        kinds(
            &Filter::new().min_age(Duration::from_secs(3600)).apply(&now),
            "filter-"
        )
        .is_empty()
    );
    assert_eq!(
        kinds(
            &Filter::new().min_age(Duration::ZERO).apply(&now),
            "filter-"
        )
        .len(),
        2
    );
    drop((in_job, outside));
}

#[inline(never)]
fn steady(n: usize) -> Vec<Tag> {
    (0..n).map(|_| Tag::new("diff-conn")).collect()
}

#[inline(never)]
fn leaky(n: usize) -> Vec<Tag> {
    (0..n).map(|_| Tag::new("diff-conn")).collect()
}

#[test]
fn a_diff_points_at_what_appeared_went_away_and_grew() {
    let gone = Tag::new("diff-gone");
    let steady_items = steady(2);
    let mut leaked = leaky(1);
    let before = Filter::new()
        .kind("diff-conn")
        .kind("diff-gone")
        .apply(&Capture::now());
    drop(gone);
    leaked.extend(leaky(4));
    let fresh = Tag::new("diff-new");
    let after = Filter::new()
        .kind("diff-conn")
        .kind("diff-gone")
        .kind("diff-new")
        .apply(&Capture::now());

    let diff = Diff::between(&before, &after);
    let top = &diff.changes()[0];
    assert_eq!(
        (top.kind(), top.before(), top.after(), top.delta()),
        ("diff-conn", 1, 5, 4)
    );
    assert_eq!(top.site(), leaked_site(&after));
    let appeared: Vec<&str> = diff.appeared().map(|c| c.kind()).collect();
    assert_eq!(appeared, ["diff-new"]);
    let went: Vec<&str> = diff.went_away().map(|c| c.kind()).collect();
    assert_eq!(went, ["diff-gone"]);
    assert_eq!(diff.grew().count(), 2);
    // The steady site did not change, so it is not listed.
    assert_eq!(diff.changes().len(), 3);
    let text = diff.to_string();
    assert!(text.lines().next().unwrap().contains("+4"), "{text}");
    assert!(text.contains("went away"), "{text}");
    drop((steady_items, leaked, fresh));
}

fn leaked_site(capture: &Capture) -> &leakwatch_export::CapturedSite {
    use std::collections::HashMap;
    let mut counts: HashMap<&leakwatch_export::CapturedSite, usize> = HashMap::new();
    for e in capture.entries().iter().filter(|e| e.kind() == "diff-conn") {
        *counts.entry(e.site()).or_default() += 1;
    }
    counts.into_iter().max_by_key(|(_, n)| *n).unwrap().0
}

#[test]
fn json_round_trips_every_field() {
    let job = Scope::new("json");
    let tag = job.run(|| Tag::with_detail("json-file", "/var/log/app.log"));
    tag.set_id(77);
    leakwatch_core::set_level(leakwatch_core::Level::Stacks);
    let with_stack = Tag::new("json-stack");
    leakwatch_core::set_level(leakwatch_core::Level::Sites);
    let capture = Filter::new()
        .kind("json-file")
        .kind("json-stack")
        .apply(&Capture::now());
    assert_eq!(capture.entries().len(), 2);

    let json = capture.to_json();
    let back = Capture::from_json(&json).expect("reads its own JSON");
    assert_eq!(back, capture);
    let entry = back
        .entries()
        .iter()
        .find(|e| e.kind() == "json-file")
        .unwrap();
    assert_eq!(entry.detail(), Some("/var/log/app.log (id 77)"));
    assert_eq!(entry.id(), Some(77));
    assert_eq!(entry.scope(), job.id().as_u64());
    assert_eq!(entry.site().file(), file!());
    let stacked = back
        .entries()
        .iter()
        .find(|e| e.kind() == "json-stack")
        .unwrap();
    assert!(!stacked.frames().is_empty());
    assert_eq!(back.taken_at(), capture.taken_at());
    drop((tag, with_stack));
}

#[test]
fn bad_json_is_refused_naming_what_is_wrong() {
    let err = Capture::from_json("{\"items\": []}").unwrap_err();
    assert_eq!(
        err.to_string(),
        "not a leakwatch capture: missing field `leakwatch` at line 1 column 13"
    );
    let err = Capture::from_json(r#"{"leakwatch": 3, "items": []}"#).unwrap_err();
    assert!(matches!(err.kind(), ReadErrorKind::UnsupportedVersion(3)));
    assert!(
        err.to_string().contains("format 3 is not supported"),
        "{err}"
    );
    let err =
        Capture::from_json(r#"{"leakwatch": 2, "taken_unix_nanos": 0, "items": [{"kind": 3}]}"#)
            .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("not a leakwatch capture: invalid type"),
        "{err}"
    );
}
