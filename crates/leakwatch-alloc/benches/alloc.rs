//! `Counting<System>` against `System`: alloc + free of 16–256 bytes, on
//! one thread and on two at once, inside a scope. Target: at most 15%.
//!
//! `cargo bench -p leakwatch-alloc --bench alloc --features production`

// The alternating comparison every leakwatch bench uses (the preload's
// includes it the same way).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use leakwatch_alloc::Counting;
use leakwatch_core::Scope;

static COUNTING: Counting<System> = Counting::new(System);

/// Sixteen blocks of 16, 32, .. 256 bytes allocated, then freed.
fn churn(a: &impl GlobalAlloc) {
    let mut blocks = [std::ptr::null_mut::<u8>(); 16];
    for (i, slot) in blocks.iter_mut().enumerate() {
        let layout = Layout::from_size_align(16 * (i + 1), 8).unwrap();
        // SAFETY: a non-zero-sized layout, freed below with the same one.
        *slot = black_box(unsafe { a.alloc(layout) });
    }
    for (i, &p) in blocks.iter().enumerate() {
        let layout = Layout::from_size_align(16 * (i + 1), 8).unwrap();
        // SAFETY: `p` came from `a.alloc(layout)` above.
        unsafe { a.dealloc(p, layout) };
    }
}

fn alloc(c: &mut Criterion) {
    let scope = Scope::new("bench");
    let _in_scope = scope.enter();
    for threads in [1, 2] {
        let mut group = c.benchmark_group(format!("alloc/{threads} thread(s), 4x16 blocks"));
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            if threads == 2 {
                let id = scope.id();
                let stop = &stop;
                s.spawn(move || {
                    let _in_scope = id.enter();
                    while !stop.load(Ordering::Relaxed) {
                        churn(&COUNTING);
                        churn(&System);
                    }
                });
            }
            // Four rounds of sixteen per timing, so the clock's resolution
            // (about 10 ns here) blurs the medians less.
            tests_support::bench::compare(
                &mut group,
                &format!("alloc+free x64, {threads} thread(s)"),
                "System",
                || (0..4).for_each(|_| churn(&System)),
                "Counting<System>",
                || (0..4).for_each(|_| churn(&COUNTING)),
            );
            stop.store(true, Ordering::Relaxed);
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = alloc
}
criterion_main!(benches);
