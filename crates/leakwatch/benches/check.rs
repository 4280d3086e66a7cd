//! A clean check while 1,000 tasks of other scopes are alive: what a test's
//! `#[leakwatch::test]` pays at its end on a busy shared runtime (and the
//! same after a burst of 131,072 items alive at once in an id table, and
//! while another thread opens and closes items of other scopes at full
//! speed: with `--cfg tokio_unstable`, also while a hooked runtime spawns
//! short tasks of another scope). BENCHMARKS.md's row sets goleak's `Find`
//! with 1,000 goroutines beside it.
//!
//! ```text
//! cargo bench -p leakwatch --bench check --features production,tokio
//! RUSTFLAGS="--cfg tokio_unstable" CARGO_TARGET_DIR=target/unstable \
//!     cargo bench -p leakwatch --bench check --features production,tokio -- churn
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use leakwatch::{Level, Scope};

fn clean_check(c: &mut Criterion) {
    leakwatch::set_level(Level::Sites);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    // 1,000 tasks parked on a channel, in 100 other scopes ("other tests").
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let others: Vec<Scope> = (0..100).map(|i| Scope::new(format!("other-{i}"))).collect();
    let mut handles = Vec::new();
    for scope in &others {
        let _in_scope = scope.enter();
        let _rt = runtime.enter();
        for _ in 0..10 {
            let mut stopped = stopped.clone();
            handles.push(leakwatch::tokio::spawn(async move {
                let _ = stopped.wait_for(|&s| s).await;
            }));
        }
    }
    assert_eq!(
        others.iter().map(|s| s.open_count("task")).sum::<usize>(),
        1000
    );

    let mut group = c.benchmark_group("check");
    let test = Scope::new("clean-test");
    group.bench_function("clean scope, 1,000 other tasks alive", |b| {
        b.iter(|| test.check_within(Duration::from_millis(300)).unwrap())
    });
    let leaky = &others[0];
    group.bench_function("scope with 10 open tasks (report built)", |b| {
        b.iter(|| leaky.check_now().unwrap_err())
    });
    // An id table that once held 131,072 items at once (a burst of tasks),
    // one of them still open (in another scope): a check of a clean scope
    // reads its own counts, not the table.
    let burst = leakwatch::integration::IdTable::new("job");
    let site = std::panic::Location::caller();
    for id in 0..131_072 {
        burst.open(id, site, others[1].id());
    }
    for id in (0..131_072).filter(|&id| id != 1_000) {
        burst.close(id);
    }
    group.bench_function(
        "clean scope, 1,000 other tasks alive, after a burst, one left",
        |b| b.iter(|| test.check_within(Duration::from_millis(300)).unwrap()),
    );
    burst.close(1_000);
    group.bench_function("clean scope, 1,000 other tasks alive, after a burst", |b| {
        b.iter(|| test.check_within(Duration::from_millis(300)).unwrap())
    });

    // Churn: the other core opens and closes tags of another scope (and
    // of no scope) as fast as it can.
    let stop_churn = Arc::new(AtomicBool::new(false));
    let churner = {
        let (stop, other) = (stop_churn.clone(), others[2].id());
        std::thread::spawn(move || {
            let _in_other = other.enter();
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..1_000 {
                    drop(std::hint::black_box(leakwatch::Tag::new("churn")));
                }
            }
        })
    };
    group.bench_function("clean scope, churn of tags in another scope", |b| {
        b.iter(|| test.check_within(Duration::from_millis(300)).unwrap())
    });
    stop_churn.store(true, Ordering::Relaxed);
    churner.join().unwrap();
    #[cfg(tokio_unstable)]
    hooked_churn(&mut group, &test, others[3].id());

    // A watchdog's look (`Snapshot::held_past`) with 100,000 items open,
    // none past its threshold: its share of a core is this over its period
    // (a quarter of the shortest threshold, at most 1 s).
    let held: Vec<leakwatch::Tag> = (0..100_000)
        .map(|_| leakwatch::Tag::new("db-conn"))
        .collect();
    group.bench_function("watchdog look, 100,000 items open, none past", |b| {
        b.iter(|| {
            leakwatch_core::Snapshot::held_past(|kind| {
                (kind == "db-conn").then_some(Duration::from_secs(30))
            })
        })
    });
    drop(held);
    group.finish();

    stop.send(true).unwrap();
    runtime.block_on(async {
        for h in handles {
            h.await.unwrap();
        }
    });
}

/// A clean check while a runtime with leakwatch's hooks spawns short
/// tasks of another scope, one after another, as fast as it can.
#[cfg(tokio_unstable)]
fn hooked_churn(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    test: &Scope,
    other: leakwatch::integration::ScopeId,
) {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(1);
    leakwatch::tokio::hooks::install(&mut builder);
    let hooked = builder.build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let spawner = {
        let stop = stop.clone();
        let handle = hooked.handle().clone();
        std::thread::spawn(move || {
            let _in_other = other.enter();
            handle.block_on(async {
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..100 {
                        tokio::spawn(async {}).await.unwrap();
                    }
                }
            })
        })
    };
    group.bench_function("clean scope, churn of hooked tasks in another scope", |b| {
        b.iter(|| test.check_within(Duration::from_millis(300)).unwrap())
    });
    stop.store(true, Ordering::Relaxed);
    spawner.join().unwrap();
}

criterion_group! {
    name = benches;
    config = tests_support::bench::short(Duration::from_secs(3));
    targets = clean_check
}
criterion_main!(benches);
