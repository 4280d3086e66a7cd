//! A runtime running 100k short tasks, with leakwatch's task hooks installed
//! and without: what tracking every task of a runtime costs.
//!
//! ```text
//! RUSTFLAGS="--cfg tokio_unstable" CARGO_TARGET_DIR=target/unstable \
//!     cargo bench -p leakwatch --bench hooks --features production,tokio
//! ```
//!
//! The reference machine's speed drifts by 10–30% over seconds, more than the
//! cost being measured, so besides each configuration on its own the bench
//! measures the overhead *paired*: every iteration runs the same work on a
//! runtime without hooks and on one with them, back to back, and the bench
//! reports the ratio of their times (as 1 ms per iteration for equal speed,
//! so criterion can analyse it), which drift mostly cancels out of.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

#[cfg(tokio_unstable)]
fn hooks(c: &mut Criterion) {
    use std::hint::black_box;
    use std::time::Instant;

    use leakwatch::{Level, Scope};
    use tokio::runtime::Runtime;

    const TASKS: u64 = 100_000;

    /// A runtime of `flavor` with `hooks`: "no hooks", "empty hooks" (a
    /// spawn and a terminate hook that do nothing: tokio's own cost of
    /// calling the hooks leakwatch installs, the floor under them) or
    /// "hooks" (leakwatch's).
    fn runtime(flavor: &str, hooks: &str) -> Runtime {
        let mut builder = match flavor {
            "current_thread" => tokio::runtime::Builder::new_current_thread(),
            _ => {
                let mut b = tokio::runtime::Builder::new_multi_thread();
                b.worker_threads(2);
                b
            }
        };
        match hooks {
            "hooks" => {
                leakwatch::tokio::hooks::install(&mut builder);
            }
            "empty hooks" => {
                builder.on_task_spawn(|_| {}).on_task_terminate(|_| {});
            }
            _ => {}
        }
        builder.build().unwrap()
    }

    /// The work a runtime runs: 100k trivial tasks spawned with plain
    /// `tokio::spawn` and awaited, `at_once` at a time (100 as a server runs
    /// short tasks, or all 100k alive together), each polled `polls` times
    /// (it yields `polls - 1` times), spawned by the code `block_on` runs
    /// (as a test body does) or `by_task` (as a server's tasks do, which on a
    /// multi-thread runtime mostly keeps a task on the worker that spawned
    /// it).
    #[derive(Clone, Copy)]
    struct Load {
        at_once: u64,
        polls: u32,
        by_task: bool,
    }

    impl Load {
        fn name(self) -> String {
            let mut name = format!("100k tasks, {} at a time", self.at_once);
            if self.polls > 1 {
                name += &format!(", polled {} times", self.polls);
            }
            if self.by_task {
                name += ", spawned by a task";
            }
            name
        }
    }

    fn run(runtime: &Runtime, load: Load) {
        let Load {
            at_once,
            polls,
            by_task,
        } = load;
        let work = async move {
            for batch in 0..TASKS / at_once {
                let handles: Vec<_> = (0..at_once)
                    .map(|i| {
                        tokio::spawn(async move {
                            for _ in 1..polls {
                                tokio::task::yield_now().await;
                            }
                            black_box(batch + i)
                        })
                    })
                    .collect();
                for h in handles {
                    h.await.unwrap();
                }
            }
        };
        if by_task {
            runtime.block_on(async { tokio::spawn(work).await.unwrap() })
        } else {
            runtime.block_on(work)
        }
    }

    /// `iters` runs of `load` on `plain` and on `hooked`, back to back, as
    /// the ratio of their times in a duration criterion can analyse: 1 ms
    /// per iteration means no overhead, 1.2 ms means 20%.
    fn paired(plain: &Runtime, hooked: &Runtime, load: Load, iters: u64) -> Duration {
        let (mut without, mut with) = (Duration::ZERO, Duration::ZERO);
        // Which goes first alternates: the second of a pair runs on a heap
        // the first just churned.
        for i in 0..iters {
            for hooked_now in [i % 2 == 0, i % 2 == 1] {
                let start = Instant::now();
                run(if hooked_now { hooked } else { plain }, load);
                *if hooked_now { &mut with } else { &mut without } += start.elapsed();
            }
        }
        let ratio = with.as_secs_f64() / without.as_secs_f64();
        Duration::from_secs_f64(ratio * 1e-3 * iters as f64)
    }

    leakwatch::set_level(Level::Sites);
    let build = if leakwatch::integration::COMPILED_IN {
        "in"
    } else {
        "out"
    };
    let scope = Scope::new("bench");
    let _in_scope = scope.enter();
    let short = Load {
        at_once: 100,
        polls: 1,
        by_task: false,
    };
    let all_alive = Load {
        at_once: TASKS,
        ..short
    };
    for flavor in ["current_thread", "multi_thread"] {
        let mut group = c.benchmark_group(format!("hooks/{build}/{flavor}"));
        group.sample_size(10);
        group.throughput(criterion::Throughput::Elements(TASKS));
        let runtimes = ["no hooks", "empty hooks", "hooks"].map(|h| (h, runtime(flavor, h)));
        let plain = &runtimes[0].1;
        for load in [short, all_alive] {
            for (hooks, runtime) in &runtimes {
                let name = format!("{}, {hooks}", load.name());
                group.bench_function(name, |b| b.iter(|| run(runtime, load)));
            }
        }
        // Against no hooks: tokio's own cost of calling hooks (for tasks
        // spawned by a test body and by a task), then
        // leakwatch's for short tasks (spawned by a test body or by a task,
        // polled once or four times, as tasks that wait for something are)
        // and with 100k alive.
        let empty = (&runtimes[1], short);
        let hooked = &runtimes[2];
        let by_task = Load {
            by_task: true,
            ..short
        };
        let polled = Load { polls: 4, ..short };
        let polled_by_task = Load {
            polls: 4,
            ..by_task
        };
        // The floor of the loads spawned by a task as well: there tokio
        // calls the hooks from a worker while the other may steal.
        let empty_by_task = (&runtimes[1], by_task);
        let pairs = [short, by_task, polled, polled_by_task, all_alive].map(|load| (hooked, load));
        for ((hooks, runtime), load) in [empty, empty_by_task].into_iter().chain(pairs) {
            let name = format!(
                "{}, {hooks} / no hooks, paired (1 ms = same speed)",
                load.name()
            );
            group.bench_function(name, |b| {
                b.iter_custom(|iters| paired(plain, runtime, load, iters))
            });
        }
        group.finish();
    }
    assert!(scope.check_now().is_ok());
}

#[cfg(not(tokio_unstable))]
fn hooks(_: &mut Criterion) {
    eprintln!(
        "the hooks bench needs RUSTFLAGS=\"--cfg tokio_unstable\" (tokio's task hooks are unstable)"
    );
}

criterion_group! {
    name = benches;
    config = tests_support::bench::short(Duration::from_secs(8));
    targets = hooks
}
criterion_main!(benches);
