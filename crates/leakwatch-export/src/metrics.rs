//! leakwatch's figures as Prometheus metrics, through `prometheus-client`,
//! in a service's own registry or a registry of their own.
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `leakwatch_live_items` | gauge: items open now (estimated when sampled) | `kind`, and `type` for descriptors |
//! | `leakwatch_live_item_age_seconds` | histogram: how long the open items have been open (estimated when sampled) | `kind` |
//! | `leakwatch_sample_period` | gauge: N of `LEAKWATCH=sampled:N`, else 1 | |
//! | `leakwatch_leaks_reported_total` | counter: items in reports passed to [`LeakMetrics::record_report`] | `kind` |
//! | `leakwatch_long_held_total` | counter: [`LeakMetrics::record_long_held`] calls | `kind` |
//!
//! The live figures are read from [`leakwatch_core::Snapshot::all`] at each
//! scrape, so they cost nothing between scrapes. They cover tracked items
//! and, with `leakwatch`'s libc interposition, every descriptor (kind
//! `fd`), thread (`thread`) and child process (`child`) of the process.
//! Descriptors are also labelled by `type` of file, one of the fixed
//! [`leakwatch_core::FILE_TYPES`] (`file`, `dir`, `tcp`, `udp`, `unix`,
//! `pipe`, `eventfd`, `epoll`, `timerfd`, `signalfd`, `memfd`, `inotify`,
//! `other`), so the number of series stays bounded:
//! `leakwatch_live_items{kind="fd",type="tcp"}`.
//!
//! # Sampling
//!
//! At `LEAKWATCH=sampled:N` one tracked item in N is recorded. The live
//! figures are scaled, not raw: each recorded item counts N
//! ([`leakwatch_core::Item::weight`]), in the gauge and in the histogram,
//! so they estimate how many items are open in all, recorded or not (the
//! HELP text says so). With k items recorded the estimate k·N has a
//! standard deviation of about √(k·N·(N−1)): about 3% of 10,000 items at
//! `sampled:10`. `leakwatch_sample_period` says which N the figures were
//! scaled by.
//!
//! ```
//! use prometheus_client::registry::Registry;
//!
//! let mut registry = Registry::default(); // the service's own
//! let leaks = leakwatch_export::metrics::LeakMetrics::new();
//! leaks.register(&mut registry);
//!
//! let conn = leakwatch_core::Tag::new("db-conn");
//! let mut text = String::new();
//! prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
//! # if leakwatch_core::COMPILED_IN {
//! assert!(text.contains(r#"leakwatch_live_items{kind="db-conn"} "#));
//! # }
//! # drop(conn);
//! ```

use std::collections::BTreeMap;
use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::{Registry, Unit};

/// Upper bounds of the age histogram's buckets, in seconds: from a second
/// to a day, where a held item turns from busy into leaked.
pub const AGE_BUCKETS: [f64; 10] = [
    1.0, 5.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 21600.0, 86400.0,
];

type ByKind = Family<Vec<(&'static str, String)>, Counter>;

/// The metrics, cheap to clone: clones count into the same counters.
///
/// ```
/// let leaks = leakwatch_export::metrics::LeakMetrics::new();
/// leaks.record_long_held("db-conn");
/// assert!(leaks.to_text().contains(r#"leakwatch_long_held_total{kind="db-conn"} 1"#));
/// ```
#[derive(Clone, Debug, Default)]
pub struct LeakMetrics {
    reported: ByKind,
    long_held: ByKind,
}

/// Reads the live items at each scrape.
#[derive(Debug)]
struct Live;

impl LeakMetrics {
    /// Metrics with zero counts.
    ///
    /// ```
    /// let leaks = leakwatch_export::metrics::LeakMetrics::new();
    /// # let _ = leaks;
    /// ```
    pub fn new() -> LeakMetrics {
        LeakMetrics::default()
    }

    /// Adds the metrics to `registry`, beside whatever it already holds.
    /// Register one `LeakMetrics` per registry: a second would repeat the
    /// live metrics' names.
    ///
    /// ```
    /// let mut registry = prometheus_client::registry::Registry::with_prefix("app");
    /// leakwatch_export::metrics::LeakMetrics::new().register(&mut registry);
    /// ```
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "leakwatch_leaks_reported",
            "Items in leak reports, by kind",
            self.reported.clone(),
        );
        registry.register(
            "leakwatch_long_held",
            "Items held past their kind's threshold, by kind",
            self.long_held.clone(),
        );
        registry.register_collector(Box::new(Live));
    }

    /// Counts each item of a failed check's report.
    ///
    /// ```
    /// let scope = leakwatch_core::Scope::new("job");
    /// let tag = scope.run(|| leakwatch_core::Tag::new("socket"));
    /// let leaks = leakwatch_export::metrics::LeakMetrics::new();
    /// if let Err(report) = scope.check() {
    ///     leaks.record_report(&report);
    ///     assert!(leaks.to_text().contains(r#"leakwatch_leaks_reported_total{kind="socket"} 1"#));
    /// }
    /// # drop(tag);
    /// ```
    pub fn record_report(&self, report: &leakwatch_core::Report) {
        for group in report.groups() {
            self.reported
                .get_or_create(&vec![("kind", group.kind().to_owned())])
                .inc_by(group.count() as u64);
        }
    }

    /// Counts one item of `kind` held past its threshold.
    ///
    /// ```
    /// let leaks = leakwatch_export::metrics::LeakMetrics::new();
    /// leaks.record_long_held("tcp");
    /// ```
    pub fn record_long_held(&self, kind: &str) {
        self.long_held
            .get_or_create(&vec![("kind", kind.to_owned())])
            .inc();
    }

    /// The metrics alone, in the Prometheus text format, for a service
    /// without a registry of its own.
    ///
    /// ```
    /// let text = leakwatch_export::metrics::LeakMetrics::new().to_text();
    /// assert!(text.ends_with("# EOF\n"));
    /// ```
    pub fn to_text(&self) -> String {
        let mut registry = Registry::default();
        self.register(&mut registry);
        let mut text = String::new();
        // Writing to a String cannot fail, and every value here encodes.
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("metrics encode");
        text
    }
}

/// The `type` label of a descriptor's series: its type of file if it is
/// one of [`leakwatch_core::FILE_TYPES`], else `other`, so that a source
/// naming other types adds no series.
fn bounded_type(file_type: &str) -> &'static str {
    leakwatch_core::FILE_TYPES
        .iter()
        .find(|&&t| t == file_type)
        .copied()
        .unwrap_or("other")
}

#[derive(Default)]
struct KindFigures {
    count: u64,
    age_sum: f64,
    /// Non-cumulative counts per bucket of [`AGE_BUCKETS`], then `+Inf`.
    buckets: [u64; AGE_BUCKETS.len() + 1],
}

impl Collector for Live {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let snapshot = leakwatch_core::Snapshot::all();
        let mut kinds: BTreeMap<&str, KindFigures> = BTreeMap::new();
        // Items by kind and, for descriptors, type of file.
        let mut counts: BTreeMap<(&str, Option<&'static str>), u64> = BTreeMap::new();
        for item in snapshot.items() {
            let weight = u64::from(item.weight());
            let age = item.age().as_secs_f64();
            let figures = kinds.entry(item.kind()).or_default();
            figures.count += weight;
            figures.age_sum += age * weight as f64;
            let bucket = AGE_BUCKETS.partition_point(|&upper| upper < age);
            figures.buckets[bucket] += weight;
            *counts
                .entry((item.kind(), item.file_type().map(bounded_type)))
                .or_default() += weight;
        }

        {
            let mut live = encoder.encode_descriptor(
                "leakwatch_live_items",
                "Items open now, by kind and, for descriptors, type of file; at \
                 LEAKWATCH=sampled:N each recorded item counts N, so this is an estimate",
                None,
                MetricType::Gauge,
            )?;
            for (&(kind, file_type), &count) in &counts {
                let count = i64::try_from(count).unwrap_or(i64::MAX);
                match file_type {
                    Some(file_type) => live
                        .encode_family(&[("kind", kind), ("type", file_type)])?
                        .encode_gauge(&count)?,
                    None => live
                        .encode_family(&[("kind", kind)])?
                        .encode_gauge(&count)?,
                }
            }
        }

        {
            let period = match leakwatch_core::level() {
                leakwatch_core::Level::Sampled(n) => i64::from(n.get()),
                _ => 1,
            };
            encoder
                .encode_descriptor(
                    "leakwatch_sample_period",
                    "One tracked item in how many is recorded (LEAKWATCH=sampled:N); the live \
                     figures are scaled by it",
                    None,
                    MetricType::Gauge,
                )?
                .encode_gauge(&period)?;
        }

        let mut ages = encoder.encode_descriptor(
            "leakwatch_live_item_age",
            "How long the items open now have been open, by kind; at LEAKWATCH=sampled:N each \
             recorded item counts N",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        for (kind, figures) in &kinds {
            let buckets: Vec<(f64, u64)> = AGE_BUCKETS
                .iter()
                .copied()
                .chain([f64::MAX])
                .zip(figures.buckets)
                .collect();
            ages.encode_family(&[("kind", *kind)])?
                .encode_histogram::<NoLabelSet>(figures.age_sum, figures.count, &buckets, None)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::AGE_BUCKETS;

    #[test]
    fn ages_fall_in_the_first_bucket_at_or_above_them() {
        assert_eq!(AGE_BUCKETS.partition_point(|&u| u < 0.5), 0);
        assert_eq!(AGE_BUCKETS.partition_point(|&u| u < 1.0), 0);
        assert_eq!(AGE_BUCKETS.partition_point(|&u| u < 1.5), 1);
        assert_eq!(AGE_BUCKETS.partition_point(|&u| u < 1e9), AGE_BUCKETS.len());
    }
}
