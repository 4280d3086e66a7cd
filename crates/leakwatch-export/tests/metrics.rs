//! The Prometheus text form, in a registry of the service's own.

use leakwatch_core::{Scope, Tag};
use leakwatch_export::metrics::LeakMetrics;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;

fn lines_with<'a>(text: &'a str, needle: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(needle)).collect()
}

#[test]
fn live_counts_ages_and_counters_sit_beside_the_services_own_metrics() {
    let mut registry = Registry::default();
    let requests: Counter = Counter::default();
    registry.register("requests", "Requests served", requests.clone());
    requests.inc();
    let leaks = LeakMetrics::new();
    leaks.register(&mut registry);

    let conns: Vec<Tag> = (0..3).map(|_| Tag::new("metrics-conn")).collect();
    let scope = Scope::new("metrics");
    let leaked = scope.run(|| Tag::new("metrics-leak"));
    let report = scope.check().expect_err("one item open");
    leaks.record_report(&report);
    leaks.record_long_held("metrics-conn");
    leaks.record_long_held("metrics-conn");

    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();

    assert_eq!(lines_with(&text, "requests_total "), ["requests_total 1"]);
    assert_eq!(
        lines_with(&text, "# TYPE leakwatch_live_items gauge"),
        ["# TYPE leakwatch_live_items gauge"]
    );
    assert_eq!(
        lines_with(&text, r#"leakwatch_live_items{kind="metrics-conn"}"#),
        [r#"leakwatch_live_items{kind="metrics-conn"} 3"#]
    );
    assert_eq!(
        lines_with(&text, "# TYPE leakwatch_live_item_age_seconds histogram"),
        ["# TYPE leakwatch_live_item_age_seconds histogram"]
    );
    let age = lines_with(&text, r#"leakwatch_live_item_age_seconds_"#)
        .into_iter()
        .filter(|l| l.contains(r#"kind="metrics-conn""#))
        .collect::<Vec<_>>();
    // Fresh items are all in the first bucket, and so in every bucket.
    assert!(
        age.contains(&r#"leakwatch_live_item_age_seconds_count{kind="metrics-conn"} 3"#),
        "{age:#?}"
    );
    assert!(
        age.contains(&r#"leakwatch_live_item_age_seconds_bucket{le="1.0",kind="metrics-conn"} 3"#),
        "{age:#?}"
    );
    assert!(
        age.contains(&r#"leakwatch_live_item_age_seconds_bucket{le="+Inf",kind="metrics-conn"} 3"#),
        "{age:#?}"
    );
    assert_eq!(
        lines_with(
            &text,
            r#"leakwatch_leaks_reported_total{kind="metrics-leak"}"#
        ),
        [r#"leakwatch_leaks_reported_total{kind="metrics-leak"} 1"#]
    );
    assert_eq!(
        lines_with(&text, r#"leakwatch_long_held_total{kind="metrics-conn"}"#),
        [r#"leakwatch_long_held_total{kind="metrics-conn"} 2"#]
    );
    assert!(text.ends_with("# EOF\n"));

    // Closed items leave the live figures at the next scrape.
    drop(conns);
    let text = leaks.to_text();
    assert!(
        lines_with(&text, r#"kind="metrics-conn""#)
            .iter()
            .all(|l| !l.starts_with("leakwatch_live")),
        "{text}"
    );
    assert_eq!(
        lines_with(&text, r#"leakwatch_long_held_total{kind="metrics-conn"}"#),
        [r#"leakwatch_long_held_total{kind="metrics-conn"} 2"#]
    );
    drop(leaked);
}
