//! Tracked spawn + join (`leakwatch::tokio::spawn`) against plain
//! `tokio::spawn`, on both runtime flavours.
//!
//! ```text
//! cargo bench -p leakwatch --bench spawn --features production,tokio
//! ```
//!
//! Besides each on its own, the overhead is measured *paired*: every
//! iteration runs the plain and the tracked batch back to back, and the
//! bench reports the ratio of their times (as 1 ms per iteration for equal
//! speed, so criterion can analyse it), so the reference machine's drift
//! (10–30% over seconds) mostly cancels out.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use leakwatch::{Level, Scope};
use tokio::runtime::Runtime;

/// Spawns 100 tasks and awaits them in one `block_on`, so waking the
/// runtime's threads (tens of microseconds on this VM) does not drown the
/// cost of a spawn.
fn batch(runtime: &Runtime, tracked: bool) {
    runtime.block_on(async {
        let handles: Vec<_> = (0..100)
            .map(|i| {
                let task = async move { black_box(i) };
                match tracked {
                    true => leakwatch::tokio::spawn(task),
                    false => tokio::spawn(task),
                }
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    })
}

fn spawn_join(c: &mut Criterion) {
    leakwatch::set_level(Level::Sites);
    let build = if leakwatch::integration::COMPILED_IN {
        "in"
    } else {
        "out"
    };
    for (flavor, runtime) in [
        (
            "current_thread",
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap(),
        ),
        (
            "multi_thread",
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .build()
                .unwrap(),
        ),
    ] {
        let mut group = c.benchmark_group(format!("spawn/{build}/{flavor}"));
        let scope = Scope::new("bench");
        let _in_scope = scope.enter();
        group.bench_function("100 x tokio::spawn + await", |b| {
            b.iter(|| batch(&runtime, false))
        });
        group.bench_function("100 x leakwatch::tokio::spawn + await (sites)", |b| {
            b.iter(|| batch(&runtime, true))
        });
        group.bench_function("tracked / plain, paired (1 ms = same speed)", |b| {
            b.iter_custom(|iters| {
                let (mut plain, mut tracked) = (Duration::ZERO, Duration::ZERO);
                // Which goes first alternates: the second of a pair runs
                // on a heap the first just churned.
                for i in 0..iters {
                    for tracked_now in [i % 2 == 0, i % 2 == 1] {
                        let start = Instant::now();
                        batch(&runtime, tracked_now);
                        *if tracked_now {
                            &mut tracked
                        } else {
                            &mut plain
                        } += start.elapsed();
                    }
                }
                // The ratio, as a duration criterion can analyse: 1 ms per
                // iteration means no overhead, 1.2 ms means 20%.
                let ratio = tracked.as_secs_f64() / plain.as_secs_f64();
                Duration::from_secs_f64(ratio * 1e-3 * iters as f64)
            })
        });
        group.finish();
        assert!(scope.check_now().is_ok());
    }
}

criterion_group! {
    name = benches;
    config = tests_support::bench::short(Duration::from_secs(4));
    targets = spawn_join
}
criterion_main!(benches);
