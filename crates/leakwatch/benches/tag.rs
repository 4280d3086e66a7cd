//! Cost of one tracked item's life: `Tag` create + drop.
//!
//! Run twice, once per build:
//!
//! ```text
//! cargo bench -p leakwatch --bench tag --features production   # tracking compiled in
//! cargo bench -p leakwatch --bench tag                         # compiled out (release)
//! ```
//!
//! Group names carry the build (`in`/`out`) so the two runs never mix.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use leakwatch::{Level, Tag};

fn build() -> &'static str {
    if leakwatch::integration::COMPILED_IN {
        "in"
    } else {
        "out"
    }
}

/// A stack `depth` frames deeper than the caller, then a tag.
#[inline(never)]
fn tag_at_depth(depth: u32) -> Tag {
    if depth == 0 {
        Tag::new("bench")
    } else {
        let tag = tag_at_depth(black_box(depth - 1));
        black_box(&tag);
        tag
    }
}

fn single_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group(format!("tag/{}", build()));
    leakwatch::set_level(Level::Sites);
    group.bench_function("baseline: no tag", |b| {
        b.iter(|| black_box(black_box(7u64).wrapping_add(1)))
    });
    group.bench_function("sites: create+drop", |b| {
        b.iter(|| drop(black_box(Tag::new("bench"))))
    });
    {
        // In a test's scope, as a test's items are: counted in it.
        let scope = leakwatch::Scope::new("bench");
        let _in_scope = scope.enter();
        group.bench_function("sites: create+drop in a scope", |b| {
            b.iter(|| drop(black_box(Tag::new("bench"))))
        });
    }
    group.bench_function("sites: create+drop with detail", |b| {
        b.iter(|| drop(black_box(Tag::with_detail("bench", "127.0.0.1:5432"))))
    });
    group.bench_function("sites: create+drop 1,000 live", |b| {
        let live: Vec<Tag> = (0..1_000).map(|_| Tag::new("bench-live")).collect();
        b.iter(|| drop(black_box(Tag::new("bench"))));
        drop(live);
    });
    if cfg!(feature = "stacks") {
        leakwatch::set_level(Level::Stacks);
        group.bench_function("stacks: create+drop, 16 frames below the bench", |b| {
            b.iter(|| drop(black_box(tag_at_depth(16))))
        });
        leakwatch::set_level(Level::Sites);
    }
    leakwatch::set_level(Level::Off);
    group.bench_function("off at run time: create+drop", |b| {
        b.iter(|| drop(black_box(Tag::new("bench"))))
    });
    // Off and sampled by turns in one loop (1,024 create+drops of each), each
    // side timed on its own: their difference is what sampling adds over
    // off (most items are left out; one in 128 is recorded).
    let sampled = Level::Sampled(std::num::NonZeroU32::new(128).unwrap());
    for (name, timed) in [
        ("off, in turns with sampled (per create+drop)", Level::Off),
        (
            "sampled 1 in 128, in turns with off (per create+drop)",
            sampled,
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                const BATCH: u64 = 1_024;
                let mut mine = Duration::ZERO;
                for round in 0..iters.div_ceil(BATCH) {
                    for level in if round % 2 == 0 {
                        [Level::Off, sampled]
                    } else {
                        [sampled, Level::Off]
                    } {
                        leakwatch::set_level(level);
                        let start = Instant::now();
                        for _ in 0..BATCH {
                            drop(black_box(Tag::new("bench")));
                        }
                        if level == timed {
                            mine += start.elapsed();
                        }
                    }
                }
                mine.mul_f64(iters as f64 / (iters.div_ceil(BATCH) * BATCH) as f64)
            })
        });
    }
    leakwatch::set_level(Level::Sites);
    group.finish();
}

/// Two threads creating and dropping at once, in no scope and both in one
/// scope (whose counts they share); the figure is per op.
fn two_threads(c: &mut Criterion) {
    let mut group = c.benchmark_group(format!("tag/{}", build()));
    leakwatch::set_level(Level::Sites);
    let scope = leakwatch::Scope::new("bench");
    for (name, id) in [
        (
            "sites: create+drop, 2 threads at once (per op)",
            leakwatch::integration::ScopeId::NONE,
        ),
        (
            "sites: create+drop, 2 threads at once in one scope (per op)",
            scope.id(),
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let barrier = Barrier::new(2);
                std::thread::scope(|s| {
                    let other = s.spawn(|| {
                        let _in_scope = id.enter();
                        barrier.wait();
                        for _ in 0..iters {
                            drop(black_box(Tag::new("bench")));
                        }
                    });
                    let _in_scope = id.enter();
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..iters {
                        drop(black_box(Tag::new("bench")));
                    }
                    let mine = start.elapsed();
                    other.join().unwrap();
                    mine
                })
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = tests_support::bench::short(Duration::from_secs(3));
    targets = single_thread, two_threads
}
criterion_main!(benches);
