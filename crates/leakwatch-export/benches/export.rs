//! A capture of 100,000 live items, exported as pprof and as JSON: what a
//! scrape of `/debug/leaks/pprof` or `/debug/leaks/json` costs.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use leakwatch_core::{Level, Tag};
use leakwatch_export::{Capture, pprof};

const LIVE: usize = 100_000;

/// `LIVE` items over five sites and four kinds, each with its own detail,
/// opened at `level`.
fn open(level: Level) -> Vec<Tag> {
    leakwatch_core::set_level(level);
    let tags = tests_support::tags::many(LIVE);
    leakwatch_core::set_level(Level::Sites);
    tags
}

fn export(c: &mut Criterion) {
    for level in [Level::Sites, Level::Stacks] {
        let tags = open(level);
        // Fails if tracking is compiled out (needs leakwatch-core/production).
        assert!(Capture::now().entries().len() >= LIVE);
        let mut group = c.benchmark_group(format!("export_100k_{}", level.as_str()));
        group
            .sample_size(10)
            .measurement_time(Duration::from_secs(5));
        group.bench_function("core_snapshot", |b| {
            b.iter(|| black_box(leakwatch_core::Snapshot::all()))
        });
        group.bench_function("snapshot", |b| b.iter(|| black_box(Capture::now())));
        let capture = Capture::now();
        group.bench_function("pprof_alone", |b| {
            b.iter(|| black_box(pprof::encode(&capture)))
        });
        group.bench_function("pprof_unzipped", |b| {
            b.iter(|| black_box(pprof::profile(&capture)))
        });
        group.bench_function("json_alone", |b| b.iter(|| black_box(capture.to_json())));
        group.bench_function("snapshot_pprof", |b| {
            b.iter(|| black_box(pprof::encode(&Capture::now())))
        });
        group.bench_function("snapshot_json", |b| {
            b.iter(|| black_box(Capture::now().to_json()))
        });
        group.finish();
        drop(tags);
    }
}

criterion_group!(benches, export);
criterion_main!(benches);
