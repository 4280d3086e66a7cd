//! A runtime running 100k short tasks, with leakwatch's task hooks installed
//! and without: what tracking every task of a runtime costs.
//!
//! ```text
//! RUSTFLAGS="--cfg tokio_unstable" CARGO_TARGET_DIR=target/unstable \
//!     cargo bench -p leakwatch --bench hooks --features production,tokio
//! ```

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

#[cfg(tokio_unstable)]
fn hooks(c: &mut Criterion) {
    use std::hint::black_box;

    use leakwatch::{Level, Scope};

    const TASKS: u64 = 100_000;
    leakwatch::set_level(Level::Sites);
    let build = if leakwatch::COMPILED_IN { "in" } else { "out" };
    for flavor in ["current_thread", "multi_thread"] {
        let mut group = c.benchmark_group(format!("hooks/{build}/{flavor}"));
        group.sample_size(10);
        group.throughput(criterion::Throughput::Elements(TASKS));
        for hooked in [false, true] {
            let mut builder = match flavor {
                "current_thread" => tokio::runtime::Builder::new_current_thread(),
                _ => {
                    let mut b = tokio::runtime::Builder::new_multi_thread();
                    b.worker_threads(2);
                    b
                }
            };
            if hooked {
                leakwatch::tokio::hooks::install(&mut builder);
            }
            let runtime = builder.build().unwrap();
            let scope = Scope::new("bench");
            let _in_scope = scope.enter();
            let hooks = if hooked { "hooks" } else { "no hooks" };
            // Short tasks as a server runs them: spawned and finished 100 at
            // a time; and, harder on caches, all 100k alive at once.
            for at_once in [100, TASKS] {
                let name = format!("100k tasks, {at_once} at a time, {hooks}");
                group.bench_function(name, |b| {
                    b.iter(|| {
                        runtime.block_on(async {
                            for batch in 0..TASKS / at_once {
                                let handles: Vec<_> = (0..at_once)
                                    .map(|i| tokio::spawn(async move { black_box(batch + i) }))
                                    .collect();
                                for h in handles {
                                    h.await.unwrap();
                                }
                            }
                        })
                    })
                });
            }
            assert!(scope.check().is_ok());
        }
        group.finish();
    }
}

#[cfg(not(tokio_unstable))]
fn hooks(_: &mut Criterion) {
    eprintln!(
        "the hooks bench needs RUSTFLAGS=\"--cfg tokio_unstable\" (tokio's task hooks are unstable)"
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    targets = hooks
}
criterion_main!(benches);
