//! What `#[leakwatch::test]` expands to calls. Not a public API.

use std::time::Duration;

use crate::check::run_checked;

/// Runs a synchronous test body in its own scope.
pub fn run_test<R>(
    name: &'static str,
    grace: Option<&'static str>,
    ignore: Option<&'static str>,
    body: impl FnOnce() -> R,
) -> R {
    run_checked(
        name.to_owned(),
        parse_grace(grace),
        parse_ignore(ignore),
        body,
    )
}

/// The attribute's `ignore` rules, passed through as written.
///
/// # Panics
///
/// With the error naming the bad rule.
pub fn parse_ignore(ignore: Option<&'static str>) -> Vec<crate::Ignore> {
    match ignore.map(crate::Ignore::parse) {
        None => Vec::new(),
        Some(Ok(rules)) => rules,
        Some(Err(err)) => panic!("leakwatch: #[leakwatch::test(...)]: {err}"),
    }
}

/// The attribute's `grace`, which the macro passes through as written.
///
/// # Panics
///
/// With the error naming the value, when it is not a duration.
pub fn parse_grace(grace: Option<&'static str>) -> Option<Duration> {
    grace.map(|g| match crate::parse_grace(g) {
        Ok(grace) => grace,
        Err(err) => panic!("leakwatch: #[leakwatch::test(...)]: {err}"),
    })
}

#[cfg(feature = "tokio")]
pub use self::tokio_test::{Flavor, run_async_test};

#[cfg(feature = "tokio")]
mod tokio_test {
    use std::cell::RefCell;
    use std::future::Future;
    use std::time::Duration;

    use crate::{Backoff, Scope, ScopeGuard};

    /// The runtime flavour of an async test, as `#[tokio::test]` names it.
    #[derive(Clone, Copy, Debug)]
    pub enum Flavor {
        /// `flavor = "current_thread"` (the default).
        CurrentThread,
        /// `flavor = "multi_thread"`.
        MultiThread,
    }

    thread_local! {
        /// A worker of a test's runtime stays in the test's scope all its life.
        static WORKER_SCOPE: RefCell<Option<ScopeGuard>> = const { RefCell::new(None) };
    }

    /// Tasks still running on a test's runtime that leakwatch has no record
    /// of (spawned with plain tokio, by the test or a library).
    #[derive(Clone, Copy, Debug)]
    struct Untracked {
        /// Async tasks: tokio counts them on every build.
        tasks: usize,
        /// `spawn_blocking` tasks running or queued: tokio counts them only
        /// with `--cfg tokio_unstable`; zero without it.
        blocking: usize,
    }

    impl Untracked {
        /// What `runtime` runs beyond the `tracked` tasks and `tracked_blocking`
        /// blocking tasks that leakwatch has records of.
        fn on(runtime: &tokio::runtime::Runtime, tracked: usize, tracked_blocking: usize) -> Self {
            let metrics = runtime.metrics();
            Untracked {
                tasks: metrics.num_alive_tasks().saturating_sub(tracked),
                blocking: blocking_tasks(&metrics).saturating_sub(tracked_blocking),
            }
        }

        fn any(self) -> bool {
            self.tasks + self.blocking > 0
        }
    }

    /// Blocking tasks running or queued on the runtime: threads of its
    /// blocking pool that are not idle (the pool's count leaves out the
    /// multi-thread runtime's workers) plus the pool's queue.
    #[cfg(tokio_unstable)]
    fn blocking_tasks(metrics: &tokio::runtime::RuntimeMetrics) -> usize {
        let busy = metrics
            .num_blocking_threads()
            .saturating_sub(metrics.num_idle_blocking_threads());
        busy + metrics.blocking_queue_depth()
    }

    /// Without `--cfg tokio_unstable` tokio does not tell.
    #[cfg(not(tokio_unstable))]
    fn blocking_tasks(_: &tokio::runtime::RuntimeMetrics) -> usize {
        0
    }

    /// What still runs untracked on `runtime` once `grace` is over; `None`
    /// as soon as nothing does. `tracked` counts the scope's own (tracked,
    /// perhaps ignored) tasks and blocking tasks.
    fn untracked_after(
        runtime: &tokio::runtime::Runtime,
        grace: Duration,
        tracked: impl Fn() -> (usize, usize),
        mut wait: impl FnMut(Duration),
    ) -> Option<Untracked> {
        let mut backoff = Backoff::new(grace);
        loop {
            let (tasks, blocking) = tracked();
            let untracked = Untracked::on(runtime, tasks, blocking);
            if !untracked.any() {
                return None;
            }
            match backoff.next_pause() {
                Some(pause) => wait(pause),
                None => return Some(untracked),
            }
        }
    }

    /// The failure message for what still runs untracked on the runtime of
    /// test `name` after `grace`: what helps for every task first (the
    /// build flag, which tracks tasks however they were spawned, a
    /// library's too), then what helps for the test's own spawns.
    fn untracked_message(name: &str, grace: Duration, untracked: Untracked) -> String {
        let mut lines = Vec::new();
        if untracked.tasks > 0 {
            lines.push(format!(
                "LEAK leakwatch: {} still running on the runtime of `{name}` after {grace:?}, \
                 spawned with plain tokio (by the test or by a library it calls), so leakwatch has \
                 no record of where",
                crate::tokio::counted(untracked.tasks, "task"),
            ));
            lines.push(if cfg!(tokio_unstable) {
                // The hooks see every task but those of a `LocalSet`.
                "LEAK leakwatch: tokio fires no spawn hook for tasks on a LocalSet: spawn them \
                 with leakwatch::tokio::spawn_local to see where"
                    .to_owned()
            } else {
                "LEAK leakwatch: build with RUSTFLAGS=\"--cfg tokio_unstable\" to see each \
                 task's spawn site, the line of the test that led a library to spawn it, and \
                 where it is stuck (tokio's task hooks and task dumps)\n\
                 LEAK leakwatch: tasks the test spawns itself show their sites on any build when \
                 spawned with leakwatch::tokio::spawn (or a leakwatch::tokio::JoinSet)"
                    .to_owned()
            });
        }
        if untracked.blocking > 0 {
            lines.push(format!(
                "LEAK leakwatch: {} still running on the runtime of `{name}` after {grace:?}, \
                 spawned with plain spawn_blocking, for which tokio fires no spawn hook, so their \
                 sites are unknown; spawn the test's own with leakwatch::tokio::spawn_blocking to \
                 see where",
                crate::tokio::counted(untracked.blocking, "blocking task"),
            ));
        }
        lines.join("\n")
    }

    /// Runs an async test body on a runtime of its own, in its own scope.
    ///
    /// The check runs before the runtime shuts down: a task that still holds
    /// a resource is reported, not silently cancelled with the runtime.
    pub fn run_async_test<F: Future>(
        name: &'static str,
        flavor: Flavor,
        worker_threads: Option<usize>,
        grace: Option<&'static str>,
        ignore: Option<&'static str>,
        body: F,
    ) -> F::Output {
        let grace = super::parse_grace(grace).unwrap_or_else(crate::grace);
        let scope = Scope::new(name).ignoring(super::parse_ignore(ignore));
        let id = scope.id();
        let mut builder = match flavor {
            Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
            Flavor::MultiThread => {
                let mut b = tokio::runtime::Builder::new_multi_thread();
                if let Some(n) = worker_threads {
                    b.worker_threads(n);
                }
                b
            }
        };
        // With `--cfg tokio_unstable`, every task gets its site and scope
        // from the runtime's hooks, however it was spawned.
        #[cfg(tokio_unstable)]
        crate::tokio::hooks::install(&mut builder);
        let runtime = builder
            .enable_all()
            .on_thread_start(move || WORKER_SCOPE.set(Some(id.enter())))
            .on_thread_stop(|| WORKER_SCOPE.set(None))
            .build()
            .expect("leakwatch: failed to build the test's tokio runtime");
        let out = scope.run(|| runtime.block_on(body));
        // The runtime is still alive here: tasks it runs keep their items and
        // are given the grace to finish, the runtime driven while we wait.
        let wait = |pause| runtime.block_on(async move { tokio::time::sleep(pause).await });
        // A leaked task's report says where it is stuck (from a task dump),
        // or how to get that.
        let result = scope.check_within_using(grace, wait).map_err(|report| {
            runtime.block_on(crate::tokio::dump::attach(report, runtime.handle()))
        });
        // Tasks spawned without leakwatch (by the test or a library) have no
        // record, but the runtime counts them.
        let tracked = || {
            (
                scope.open_count(crate::tokio::KIND),
                scope.open_count(crate::tokio::BLOCKING_KIND),
            )
        };
        let untracked = result
            .is_ok()
            .then(|| untracked_after(&runtime, grace, tracked, wait))
            .flatten();
        // Never wait for blocking tasks that are stuck: they were reported.
        runtime.shutdown_background();
        if let Err(report) = result {
            panic!("{report}");
        }
        if let Some(untracked) = untracked {
            panic!("{}", untracked_message(name, grace, untracked));
        }
        out
    }
}

/// Expands to a call of `run_async_test`, or to a clear compile error when
/// the `tokio` feature is off.
#[cfg(feature = "tokio")]
#[doc(hidden)]
#[macro_export]
macro_rules! __async_test {
    ($name:expr, $flavor:ident, $workers:expr, $grace:expr, $ignore:expr, $body:expr) => {
        $crate::__macro_support::run_async_test(
            $name,
            $crate::__macro_support::Flavor::$flavor,
            $workers,
            $grace,
            $ignore,
            $body,
        )
    };
}

/// Expands to a call of `run_async_test`, or to a clear compile error when
/// the `tokio` feature is off.
#[cfg(not(feature = "tokio"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __async_test {
    ($($t:tt)*) => {
        ::core::compile_error!(
            "#[leakwatch::test] on an `async fn` needs leakwatch's `tokio` feature: \
             leakwatch = { version = \"0.1\", features = [\"tokio\"] }"
        )
    };
}
