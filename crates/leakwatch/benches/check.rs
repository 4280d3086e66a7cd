//! A clean check while 1,000 tasks of other scopes are alive: what a test's
//! `#[leakwatch::test]` pays at its end on a busy shared runtime (and the
//! same after a burst of 131,072 items alive at once in an id table).
//! goleak's `Find` takes about 33 ms with 1,000 goroutines on the same
//! machine.
//!
//! ```text
//! cargo bench -p leakwatch --bench check --features production,tokio
//! ```

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
        b.iter(|| leaky.check().unwrap_err())
    });
    // An id table that once held 131,072 items at once (a burst of tasks),
    // so every chunk of its wide part is allocated: a check reads the
    // chunks' counts, and the slots of a chunk with an item still open (in
    // another scope).
    let burst = leakwatch::ItemsById::new("job");
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
    group.finish();

    stop.send(true).unwrap();
    runtime.block_on(async {
        for h in handles {
            h.await.unwrap();
        }
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = clean_check
}
criterion_main!(benches);
