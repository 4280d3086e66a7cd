//! What it costs to name the user's line for items a dependency opened: a
//! stack captured at `LEAKWATCH=sites` for those items only.
//!
//! ```text
//! RUSTFLAGS="--cfg tokio_unstable" CARGO_TARGET_DIR=target/unstable \
//!     cargo bench -p leakwatch --bench dependency_sites --features production,tokio
//! ```
//!
//! Each case runs alternately with its plain twin in one loop, in blocks
//! (so clock reads stay out of the figures and the machine's drift falls on
//! both alike), and each of the pair is a criterion bench of its own; at the
//! end the bench prints the extra time per item in ns and %, from the same
//! loops:
//!
//! - **tag**: a `Tag` recorded at hyper-util's spawn line (a site in a
//!   dependency, so a stack is taken) against the same at a line of this
//!   file.
//! - **task**: a trivial task spawned and awaited on a hooked runtime,
//!   through hyper-util's executor (its spawn line is the site) against
//!   `tokio::spawn` in this file (each task tells a oneshot it ran, which
//!   is awaited).
//! - **hyper connection**: a request on a fresh hyper-util client to a
//!   local server, which spawns the connection's task from deep inside the
//!   request future: with leakwatch's hooks at `LEAKWATCH=sites` (the task
//!   recorded with a stack) against `LEAKWATCH=off` on the same runtime.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

#[cfg(tokio_unstable)]
fn dependency_sites(c: &mut Criterion) {
    use std::cell::Cell;
    use std::hint::black_box;
    use std::panic::Location;
    use std::time::Instant;

    use http_body_util::Empty;
    use hyper::body::Bytes;
    use hyper::rt::Executor;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    use leakwatch::integration::Origin;
    use leakwatch::{Level, Scope, Tag};

    /// Runs `plain` and `twin` alternately, `BLOCK` at a time, `iters` of
    /// each in all; returns their times.
    fn alternate(
        iters: u64,
        mut plain: impl FnMut(),
        mut twin: impl FnMut(),
    ) -> (Duration, Duration) {
        const BLOCK: u64 = 64;
        let (mut a, mut b) = (Duration::ZERO, Duration::ZERO);
        let mut left = iters;
        while left > 0 {
            let n = left.min(BLOCK);
            let t0 = Instant::now();
            for _ in 0..n {
                plain();
            }
            let t1 = Instant::now();
            for _ in 0..n {
                twin();
            }
            a += t1 - t0;
            b += t1.elapsed();
            left -= n;
        }
        (a, b)
    }

    /// Sums over every run of a pair, for the closing summary.
    #[derive(Default)]
    struct Totals {
        iters: Cell<u64>,
        plain: Cell<Duration>,
        twin: Cell<Duration>,
    }

    impl Totals {
        fn add(&self, iters: u64, (plain, twin): (Duration, Duration)) -> (Duration, Duration) {
            self.iters.set(self.iters.get() + iters);
            self.plain.set(self.plain.get() + plain);
            self.twin.set(self.twin.get() + twin);
            (plain, twin)
        }

        fn print(&self, what: &str) {
            let n = self.iters.get().max(1) as f64;
            let plain = self.plain.get().as_nanos() as f64 / n;
            let twin = self.twin.get().as_nanos() as f64 / n;
            eprintln!(
                "{what}: {plain:.0} ns plain, {twin:.0} ns at a dependency's site: +{:.0} ns (+{:.1}%) over {} alternated iterations",
                twin - plain,
                (twin / plain - 1.0) * 100.0,
                self.iters.get()
            );
        }
    }

    leakwatch::set_level(Level::Sites);
    let scope = Scope::new("bench");
    let dependency = tests_support::server::hyper::hyper_util_spawn_site();
    let users = Location::caller();
    let mut group = c.benchmark_group("dependency sites");

    // Tags: the same record, at the user's line and at hyper-util's.
    let tags = Totals::default();
    let tag = |site: &'static Location<'static>| {
        drop(black_box(Tag::with_origin(
            "conn",
            Origin {
                site,
                scope: scope.id(),
                id: None,
            },
        )));
    };
    for (name, twin) in [
        ("tag, user's site", false),
        ("tag, dependency's site", true),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let times = tags.add(iters, alternate(iters, || tag(users), || tag(dependency)));
                if twin { times.1 } else { times.0 }
            })
        });
    }

    // A task spawned on a hooked runtime: by hyper-util's executor (its
    // line is the site, so a stack is taken) and by this file.
    let spawns = Totals::default();
    {
        let mut builder = tokio::runtime::Builder::new_current_thread();
        leakwatch::tokio::hooks::install(&mut builder);
        let runtime = builder.build().unwrap();
        let executor = TokioExecutor::new();
        for (name, twin) in [
            ("task, user's spawn", false),
            ("task, hyper-util's spawn", true),
        ] {
            group.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    let times = runtime.block_on(async {
                        let (mut plain, mut dep) = (Duration::ZERO, Duration::ZERO);
                        let mut left = iters;
                        while left > 0 {
                            let n = left.min(64);
                            let t0 = Instant::now();
                            for _ in 0..n {
                                let (done, finished) = tokio::sync::oneshot::channel::<()>();
                                tokio::spawn(async move {
                                    let _ = done.send(());
                                });
                                finished.await.unwrap();
                            }
                            let t1 = Instant::now();
                            for _ in 0..n {
                                let (done, finished) = tokio::sync::oneshot::channel::<()>();
                                executor.execute(async move {
                                    let _ = done.send(());
                                });
                                finished.await.unwrap();
                            }
                            plain += t1 - t0;
                            dep += t1.elapsed();
                            left -= n;
                        }
                        (plain, dep)
                    });
                    let times = spawns.add(iters, times);
                    if twin { times.1 } else { times.0 }
                })
            });
        }
    }

    // A hyper-util connection: the request that spawns its task.
    let addr = tests_support::server::hyper::start();
    let uri: hyper::Uri = format!("http://{addr}/").parse().unwrap();
    let mut builder = tokio::runtime::Builder::new_current_thread();
    leakwatch::tokio::hooks::install(&mut builder);
    let runtime = builder.enable_all().build().unwrap();
    let connect = || {
        runtime.block_on(async {
            let client: Client<_, Empty<Bytes>> =
                Client::builder(TokioExecutor::new()).build_http();
            let response = client.get(uri.clone()).await.unwrap();
            assert!(response.status().is_success());
        })
    };
    let connections = Totals::default();
    for (name, twin) in [
        ("hyper connection, LEAKWATCH=off", false),
        ("hyper connection, sites", true),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let times = connections.add(
                    iters,
                    alternate(
                        iters,
                        || {
                            leakwatch::set_level(Level::Off);
                            connect();
                        },
                        || {
                            leakwatch::set_level(Level::Sites);
                            connect();
                        },
                    ),
                );
                if twin { times.1 } else { times.0 }
            })
        });
    }
    leakwatch::set_level(Level::Sites);
    group.finish();
    tags.print("tag");
    spawns.print("task spawn + await (plain: tokio::spawn)");
    connections.print("hyper connection (plain: LEAKWATCH=off)");
}

#[cfg(not(tokio_unstable))]
fn dependency_sites(_: &mut Criterion) {
    eprintln!(
        "the dependency_sites bench needs RUSTFLAGS=\"--cfg tokio_unstable\" (tokio's task hooks \
         name hyper-util's spawn line)"
    );
}

criterion_group! {
    name = benches;
    config = tests_support::bench::short(Duration::from_secs(5));
    targets = dependency_sites
}
criterion_main!(benches);
