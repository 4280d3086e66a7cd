//! Tracked spawn + join (`leakwatch::tokio::spawn`) against plain
//! `tokio::spawn`, on both runtime flavours.
//!
//! ```text
//! cargo bench -p leakwatch --bench spawn --features production,tokio
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use leakwatch::{Level, Scope};

fn spawn_join(c: &mut Criterion) {
    leakwatch::set_level(Level::Sites);
    let build = if leakwatch::COMPILED_IN { "in" } else { "out" };
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
        // 100 tasks per `block_on`, so waking the runtime's threads (tens of
        // microseconds on this VM) does not drown the cost of a spawn.
        group.bench_function("100 x tokio::spawn + await", |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let handles: Vec<_> = (0..100)
                        .map(|i| tokio::spawn(async move { black_box(i) }))
                        .collect();
                    for h in handles {
                        h.await.unwrap();
                    }
                })
            })
        });
        group.bench_function("100 x leakwatch::tokio::spawn + await (sites)", |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let handles: Vec<_> = (0..100)
                        .map(|i| leakwatch::tokio::spawn(async move { black_box(i) }))
                        .collect();
                    for h in handles {
                        h.await.unwrap();
                    }
                })
            })
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = spawn_join
}
criterion_main!(benches);
