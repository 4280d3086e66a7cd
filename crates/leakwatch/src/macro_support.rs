//! What `#[leakwatch::test]` expands to calls. Not a public API.
//!
//! The attribute checks its arguments when the test compiles (`grace` is
//! already a `Duration`, `ignore` already parsed once); these functions run
//! the body in its scope, check it and decide how the test ends:
//!
//! * a leak fails the test at the test's own line, with the report and no
//!   backtrace of leakwatch's frames (`check::fail`); a body that
//!   also returned `Err(e)` has `e` reported beside the leak;
//! * a `#[should_panic]` test is never passed by a leak report: when it
//!   leaks it returns without panicking, so libtest fails it, and the report
//!   is printed to the test's output.

use std::fmt::Debug;
use std::panic::{self, AssertUnwindSafe, Location};
use std::thread;
use std::time::Duration;

use crate::check::fail;
use crate::checking::Checking;
use crate::detect::Detect;
use crate::{Ignore, Scope};

/// The test being run, as the attribute describes it.
#[derive(Clone, Copy, Debug)]
pub struct Test {
    /// `module::path::to::test`.
    pub name: &'static str,
    /// `grace = ".."`, already parsed; `None` for [`crate::grace()`].
    pub grace: Option<Duration>,
    /// `ignore = ".."`, already checked by the attribute.
    pub ignore: Option<&'static str>,
    /// `fds = ..`; `None` for `LEAKWATCH_DETECT`'s.
    pub fds: Option<bool>,
    /// `threads = ..`; `None` for `LEAKWATCH_DETECT`'s.
    pub threads: Option<bool>,
    /// `children = ..`; `None` for `LEAKWATCH_DETECT`'s.
    pub children: Option<bool>,
}

impl Test {
    fn scope(&self) -> Scope {
        let rules = match self.ignore.map(Ignore::parse) {
            None => Vec::new(),
            Some(Ok(rules)) => rules,
            // The attribute parsed the same text with the same parser.
            Some(Err(err)) => panic!("leakwatch: #[leakwatch::test(ignore = ..)]: {err}"),
        };
        // The test's rules add to the suite's settings file's.
        let tasks_off = crate::suite::task_rules(crate::suite::suite());
        Scope::new(self.name).also_ignoring(rules.into_iter().chain(tasks_off))
    }

    fn grace(&self) -> Duration {
        self.grace.unwrap_or_else(crate::grace)
    }

    /// What the test attributes: `LEAKWATCH_DETECT` with the test's own
    /// arguments over it. A bad `LEAKWATCH_DETECT` fails the test at `at`.
    fn detect(&self, at: &'static Location<'static>) -> Detect {
        match Detect::from_env() {
            Ok(detect) => detect.with(self.fds, self.threads, self.children),
            Err(err) => fail(format!("leakwatch: error: {err}"), at),
        }
    }

    /// Starts checking the test.
    fn begin(&self, at: &'static Location<'static>) -> Checking {
        Checking::begin(self.name, self.scope(), self.detect(at))
    }
}

/// Runs `body`, catching its panic when the test expects one.
fn run_body<R>(should_panic: bool, body: impl FnOnce() -> R) -> thread::Result<R> {
    if should_panic {
        panic::catch_unwind(AssertUnwindSafe(body))
    } else {
        Ok(body())
    }
}

/// How a test whose body returned `out` ends, given what its check found.
fn conclude<R>(
    name: &str,
    out: R,
    leaks: Option<String>,
    error_of: impl FnOnce(&R) -> Option<String>,
    at: &'static Location<'static>,
) -> R {
    let Some(report) = leaks else { return out };
    match error_of(&out) {
        Some(err) => fail(
            format!("{report}\nleakwatch: `{name}` also returned an error: {err}"),
            at,
        ),
        None => fail(report, at),
    }
}

/// How a `#[should_panic]` test ends: as its body did when nothing leaked;
/// without a panic, so that libtest fails it, when something did.
fn conclude_should_panic(name: &str, out: thread::Result<()>, leaks: Option<String>) {
    match leaks {
        None => {
            if let Err(payload) = out {
                panic::resume_unwind(payload)
            }
        }
        Some(report) => {
            let panicked = if out.is_err() {
                "it panicked as expected, but "
            } else {
                ""
            };
            eprintln!(
                "{report}\nleakwatch: `{name}` is #[should_panic]; {panicked}a leak report never \
                 counts as its panic, so the leak fails it"
            );
        }
    }
}

/// Runs a synchronous test body in its own scope.
#[track_caller]
pub fn run_test<R>(
    test: Test,
    body: impl FnOnce() -> R,
    error_of: impl FnOnce(&R) -> Option<String>,
) -> R {
    let at = Location::caller();
    let checking = test.begin(at);
    let out = checking.scope().run(body);
    let leaks = checking.check_within(test.grace());
    conclude(test.name, out, checking.finish(None, leaks), error_of, at)
}

/// Runs a synchronous `#[should_panic]` test body in its own scope.
#[track_caller]
pub fn run_should_panic_test(test: Test, body: impl FnOnce()) {
    let checking = test.begin(Location::caller());
    let out = run_body(true, || checking.scope().run(body));
    let leaks = checking.check_within(test.grace());
    conclude_should_panic(test.name, out, checking.finish(None, leaks));
}

/// Runs a synchronous test body as a leak hunt (`hunt = "3:5"`) in its own
/// scope: warm-up rounds, then measured rounds, judged by
/// `hunting::run_test`; then the scope is checked as every test's is.
#[track_caller]
pub fn run_hunt_test<R>(
    test: Test,
    warmup: usize,
    measured: usize,
    body: impl FnMut() -> R,
    error_of: impl Fn(&R) -> Option<String>,
) -> R {
    let at = Location::caller();
    let detect = test.detect(at);
    let checking = test.begin(at);
    let (out, hunted) = crate::hunting::run_test(
        test.name,
        checking.scope(),
        detect,
        warmup,
        measured,
        body,
        |out| error_of(out).is_some(),
    );
    let leaks = checking.check_within(test.grace());
    conclude(test.name, out, checking.finish(hunted, leaks), error_of, at)
}

/// What a test body returned, for [`ErrorOf`] and [`NotAnError`]: the
/// attribute calls `(&Outcome(&out)).error()`, and method resolution picks
/// `ErrorOf` when `out` is a `Result`, `NotAnError` otherwise.
#[derive(Debug)]
pub struct Outcome<'a, T>(pub &'a T);

/// The error a test body returned.
pub trait ErrorOf {
    /// `Some` with the error as libtest prints it (`{:?}`), for an `Err`.
    fn error(&self) -> Option<String>;
}

impl<T, E: Debug> ErrorOf for Outcome<'_, Result<T, E>> {
    fn error(&self) -> Option<String> {
        self.0.as_ref().err().map(|e| format!("{e:?}"))
    }
}

/// A body's value that is not a `Result`.
pub trait NotAnError {
    /// Always `None`.
    fn error(&self) -> Option<String>;
}

impl<T> NotAnError for &Outcome<'_, T> {
    fn error(&self) -> Option<String> {
        None
    }
}

#[cfg(feature = "tokio")]
pub use self::tokio_test::{
    Flavor, run_async_hunt_test, run_async_should_panic_test, run_async_test,
};
/// The tokio that builds the test's runtime, for the attribute's runtime
/// settings (`start_paused`, `unhandled_panic`, ...).
#[cfg(feature = "tokio")]
pub use ::tokio;

#[cfg(feature = "tokio")]
mod tokio_test {
    use std::cell::RefCell;
    use std::future::Future;
    use std::panic::Location;
    use std::time::{Duration, Instant};

    use tokio::runtime::{Builder, Handle, LocalOptions, LocalRuntime, Runtime, RuntimeMetrics};

    use super::{Test, conclude, conclude_should_panic, run_body};
    use crate::integration::{Backoff, CountedTasks};
    use crate::{Scope, ScopeGuard};

    /// The runtime flavour of an async test, as `#[tokio::test]` names it.
    #[derive(Clone, Copy, Debug)]
    pub enum Flavor {
        /// `flavor = "current_thread"` (the default).
        CurrentThread,
        /// `flavor = "multi_thread"`.
        MultiThread,
        /// `flavor = "local"`: a [`LocalRuntime`], where `spawn_local` works.
        Local,
    }

    /// The runtime a test runs on.
    enum TestRuntime {
        Shared(Runtime),
        Local(LocalRuntime),
    }

    impl TestRuntime {
        fn block_on<F: Future>(&self, future: F) -> F::Output {
            match self {
                TestRuntime::Shared(rt) => rt.block_on(future),
                TestRuntime::Local(rt) => rt.block_on(future),
            }
        }

        fn handle(&self) -> &Handle {
            match self {
                TestRuntime::Shared(rt) => rt.handle(),
                TestRuntime::Local(rt) => rt.handle(),
            }
        }

        fn metrics(&self) -> RuntimeMetrics {
            self.handle().metrics()
        }

        /// Drives the runtime for `pause` of real time. With a paused clock
        /// (`start_paused`) tokio's sleep returns as soon as the runtime is
        /// idle, and the rest is slept: a grace is always real time, since
        /// what it waits for may be another thread.
        fn drive_for(&self, pause: Duration) {
            let start = Instant::now();
            self.block_on(async move { tokio::time::sleep(pause).await });
            if let Some(rest) = pause.checked_sub(start.elapsed()) {
                std::thread::sleep(rest);
            }
        }

        /// Never waits for blocking tasks that are stuck: they were reported.
        fn shutdown_background(self) {
            match self {
                TestRuntime::Shared(rt) => rt.shutdown_background(),
                TestRuntime::Local(rt) => rt.shutdown_background(),
            }
        }
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
        fn on(metrics: &RuntimeMetrics, tracked: usize, tracked_blocking: usize) -> Self {
            Untracked {
                tasks: metrics.num_alive_tasks().saturating_sub(tracked),
                blocking: blocking_tasks(metrics).saturating_sub(tracked_blocking),
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
    fn blocking_tasks(metrics: &RuntimeMetrics) -> usize {
        let busy = metrics
            .num_blocking_threads()
            .saturating_sub(metrics.num_idle_blocking_threads());
        busy + metrics.blocking_queue_depth()
    }

    /// Without `--cfg tokio_unstable` tokio does not tell.
    #[cfg(not(tokio_unstable))]
    fn blocking_tasks(_: &RuntimeMetrics) -> usize {
        0
    }

    /// What still runs untracked on `runtime` once `grace` is over; `None`
    /// as soon as nothing does. `tracked` counts the scope's own (tracked,
    /// perhaps ignored) tasks and blocking tasks.
    fn untracked_after(
        runtime: &TestRuntime,
        grace: Duration,
        tracked: impl Fn() -> (usize, usize),
        mut wait: impl FnMut(Duration),
    ) -> Option<Untracked> {
        // A task that ended (its handle awaited, even) leaves tokio's count
        // only once its worker releases it: however short the grace, the
        // runtime gets a few milliseconds of driving to settle, or a clean
        // test could fail at a grace of 0.
        const SETTLE: Duration = Duration::from_millis(20);
        let mut backoff = Backoff::new(grace.max(SETTLE));
        loop {
            let (tasks, blocking) = tracked();
            let untracked = Untracked::on(&runtime.metrics(), tasks, blocking);
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

    /// What tasks that can only be counted print where the suite's file
    /// makes them a warning: the count and which setting made it one.
    fn warning(name: &str, grace: Duration, untracked: Untracked, file: Option<&str>) -> String {
        let mut what = Vec::new();
        if untracked.tasks > 0 {
            what.push(crate::tokio::counted(untracked.tasks, "task"));
        }
        if untracked.blocking > 0 {
            what.push(crate::tokio::counted(untracked.blocking, "blocking task"));
        }
        format!(
            "leakwatch: warning: {} still running on the runtime of `{name}` after {grace:?}, \
             with no record of where each was spawned; not a failure, by {}: \
             detect.counted-tasks = \"warn\"",
            what.join(" and "),
            file.unwrap_or(".config/leakwatch.toml"),
        )
    }

    /// Runs an async test body on a runtime of its own, in its own scope.
    ///
    /// The check runs before the runtime shuts down: a task that still holds
    /// a resource is reported, not silently cancelled with the runtime.
    #[track_caller]
    pub fn run_async_test<F: Future>(
        test: Test,
        flavor: Flavor,
        configure: impl FnOnce(&mut Builder),
        body: F,
        error_of: impl FnOnce(&F::Output) -> Option<String>,
    ) -> F::Output {
        let at = Location::caller();
        let run =
            |runtime: &TestRuntime, scope: &Scope| (scope.run(|| runtime.block_on(body)), None);
        let (out, leaks) = run_async(test, flavor, configure, run, at);
        conclude(test.name, out, leaks, error_of, at)
    }

    /// Runs an async test body as a leak hunt (`hunt = "3:5"`) on a
    /// runtime of its own, built once: each round runs a new future of
    /// the body on it, in the test's scope. Then the scope is checked as
    /// every test's is.
    #[track_caller]
    pub fn run_async_hunt_test<F: Future>(
        test: Test,
        warmup: usize,
        measured: usize,
        flavor: Flavor,
        configure: impl FnOnce(&mut Builder),
        mut body: impl FnMut() -> F,
        error_of: impl Fn(&F::Output) -> Option<String>,
    ) -> F::Output {
        let at = Location::caller();
        let detect = test.detect(at);
        let run = |runtime: &TestRuntime, scope: &Scope| {
            let round = || runtime.block_on(body());
            crate::hunting::run_test(test.name, scope, detect, warmup, measured, round, |out| {
                error_of(out).is_some()
            })
        };
        let (out, leaks) = run_async(test, flavor, configure, run, at);
        conclude(test.name, out, leaks, error_of, at)
    }

    /// Runs an async `#[should_panic]` test body on a runtime of its own, in
    /// its own scope.
    #[track_caller]
    pub fn run_async_should_panic_test(
        test: Test,
        flavor: Flavor,
        configure: impl FnOnce(&mut Builder),
        body: impl Future<Output = ()>,
    ) {
        let run = |runtime: &TestRuntime, scope: &Scope| {
            (
                run_body(true, || scope.run(|| runtime.block_on(body))),
                None,
            )
        };
        let (out, leaks) = run_async(test, flavor, configure, run, Location::caller());
        conclude_should_panic(test.name, out, leaks);
    }

    /// Builds the test's runtime, runs the body on it with `run` (which
    /// returns what the body gave and a hunt's report, if any) and checks
    /// its scope; the leak message, if any.
    fn run_async<O>(
        test: Test,
        flavor: Flavor,
        configure: impl FnOnce(&mut Builder),
        run: impl FnOnce(&TestRuntime, &Scope) -> (O, Option<String>),
        at: &'static Location<'static>,
    ) -> (O, Option<String>) {
        let name = test.name;
        let grace = test.grace();
        let checking = test.begin(at);
        let scope = checking.scope();
        let id = scope.id();
        let mut builder = match flavor {
            Flavor::CurrentThread | Flavor::Local => Builder::new_current_thread(),
            Flavor::MultiThread => Builder::new_multi_thread(),
        };
        configure(&mut builder);
        // With `--cfg tokio_unstable`, every task gets its site and scope
        // from the runtime's hooks, however it was spawned.
        #[cfg(tokio_unstable)]
        crate::tokio::hooks::install(&mut builder);
        builder
            .enable_all()
            // The runtime's threads are its own, alive until it shuts down
            // after the check; what they open in the test's scope is not.
            .on_thread_start(move || {
                crate::interposed::RuntimeThread::start();
                WORKER_SCOPE.set(Some(id.enter()));
            })
            .on_thread_stop(|| {
                WORKER_SCOPE.set(None);
                crate::interposed::RuntimeThread::stop();
            });
        let runtime = match flavor {
            Flavor::Local => builder
                .build_local(LocalOptions::default())
                .map(TestRuntime::Local),
            Flavor::CurrentThread | Flavor::MultiThread => builder.build().map(TestRuntime::Shared),
        }
        .expect("leakwatch: failed to build the test's tokio runtime");
        let (out, hunted) = run(&runtime, scope);
        // The runtime is still alive here: tasks it runs keep their items and
        // are given the grace to finish, the runtime driven while we wait.
        let wait = |pause| runtime.drive_for(pause);
        // A leaked task's report says where it is stuck (from a task dump),
        // or how to get that; `fn:` rules of the suite's file also match
        // there, since only the dump knows where a task waits.
        let result = scope
            .check_within_using(grace, wait)
            .map(|()| None)
            .map_err(|report| {
                let report = runtime.block_on(crate::tokio::dump::attach(report, runtime.handle()));
                crate::suite::without_waiting_in_ignored_fns(report)
            })
            .or_else(|report| {
                if report.is_clean() {
                    Ok(Some(report))
                } else {
                    Err(report)
                }
            });
        let suite = crate::suite::suite();
        // Tasks spawned without leakwatch (by the test or a library) have no
        // record, but the runtime counts them.
        let tracked = || {
            (
                scope.open_count_including_ignored(crate::tokio::KIND),
                scope.open_count_including_ignored(crate::tokio::BLOCKING_KIND),
            )
        };
        // Only counted: `detect.tasks` and `detect.counted-tasks` of the
        // suite's file say whether they fail the test.
        let counting = suite.tasks && suite.counted_tasks != CountedTasks::Off;
        let untracked = (result.is_ok() && counting)
            .then(|| untracked_after(&runtime, grace, tracked, wait))
            .flatten();
        runtime.shutdown_background();
        let leaks = match (result, untracked) {
            (Err(report), _) => checking.leaks(Err(report)),
            (Ok(passed), untracked) => {
                match passed {
                    Some(report) => eprint!("{report}"),
                    None => {
                        checking.leaks(Ok(()));
                    }
                }
                match untracked {
                    Some(untracked) if suite.counted_tasks == CountedTasks::Warn => {
                        eprintln!("{}", warning(name, grace, untracked, suite.file));
                        None
                    }
                    Some(untracked) => Some(untracked_message(name, grace, untracked)),
                    None => None,
                }
            }
        };
        (out, checking.finish(hunted, leaks))
    }
}

/// Passes a call of `run_async_test` through, or gives a clear compile error
/// when the `tokio` feature is off.
#[cfg(feature = "tokio")]
#[doc(hidden)]
#[macro_export]
macro_rules! __async_test {
    ($($call:tt)*) => {
        $($call)*
    };
}

/// Passes a call of `run_async_test` through, or gives a clear compile error
/// when the `tokio` feature is off.
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
