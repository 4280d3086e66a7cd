//! Runtimes for the task tests, and checking a scope while its runtime still
//! runs.

use std::future::Future;
use std::time::Duration;

use leakwatch::{Ignore, Report, Scope};
use tokio::runtime::{Builder, Runtime};

/// The grace the leaky cases get: long enough to show that waiting did not
/// help; a leak is reported after it whatever the machine's load.
pub const SHORT: Duration = Duration::from_millis(60);
/// The grace the fixed cases get: they finish in a few milliseconds on an
/// idle machine, and must pass well within it on a loaded one.
pub const LONG: Duration = Duration::from_secs(10);

/// A runtime with I/O and time: `"current_thread"` or `"multi_thread"` (two
/// workers).
pub fn runtime(flavor: &str) -> Runtime {
    builder(flavor).enable_all().build().unwrap()
}

/// [`runtime`] with leakwatch's hooks installed.
#[cfg(tokio_unstable)]
pub fn hooked(flavor: &str) -> Runtime {
    let mut builder = builder(flavor);
    leakwatch::tokio::hooks::install(&mut builder);
    builder.enable_all().build().unwrap()
}

/// What this module's runtimes name their threads.
const THREAD_NAME: &str = "support-rt";

/// Leaves out a scope's reports the threads of this module's runtimes.
pub static RUNTIME_THREADS: std::sync::LazyLock<Ignore> =
    std::sync::LazyLock::new(|| Ignore::Detail(format!("'{THREAD_NAME}'")));

fn builder(flavor: &str) -> Builder {
    let mut builder = builder_of(flavor);
    builder.thread_name(THREAD_NAME);
    builder
}

fn builder_of(flavor: &str) -> Builder {
    match flavor {
        "current_thread" => Builder::new_current_thread(),
        "multi_thread" => {
            let mut builder = Builder::new_multi_thread();
            builder.worker_threads(2);
            builder
        }
        other => panic!("no runtime flavor {other:?}"),
    }
}

/// Waits by driving `runtime` for the pause: what a check's `wait` must do
/// for tasks to finish while it waits. (The sleep is made inside the
/// runtime: tokio's timers need its context.)
pub fn drive(runtime: &Runtime) -> impl Fn(Duration) + Copy + '_ {
    move |pause| runtime.block_on(async move { tokio::time::sleep(pause).await })
}

/// Runs `body` on `runtime` in a new scope, then checks the scope with
/// `grace`, driving the runtime while it waits.
///
/// The runtime is built outside the scope, but its blocking pool starts
/// threads when a task first needs one, and those stay idle for seconds
/// after: they are the runtime's, so the scope ignores them by name.
pub fn check_on<T>(
    runtime: &Runtime,
    grace: Duration,
    body: impl Future<Output = T>,
) -> (Result<(), Report>, T) {
    let scope = Scope::new("async").ignoring([RUNTIME_THREADS.clone()]);
    let out = scope.run(|| runtime.block_on(body));
    (scope.check_within_using(grace, drive(runtime)), out)
}

/// Runs `body` in a fresh scope on a current-thread runtime and checks the
/// scope with `grace`, driving the runtime while it waits. The runtime is
/// then shut down without waiting for blocking tasks that are still running.
pub fn check_async<F: Future>(grace: Duration, body: F) -> (Result<(), Report>, F::Output) {
    let runtime = runtime("current_thread");
    let (result, out) = check_on(&runtime, grace, body);
    runtime.shutdown_background();
    (result, out)
}

/// A report of one task parked forever (never polled), spawned in a fresh
/// scope on a current-thread runtime, with [`leakwatch::tokio::dump::attach`]
/// applied: what a report of a leaked task looks like with or without dumps.
pub fn stuck_task_report() -> Report {
    let runtime = runtime("current_thread");
    let scope = Scope::new("stuck");
    let handle = scope.run(|| {
        let _rt = runtime.enter();
        leakwatch::tokio::spawn(std::future::pending::<()>())
    });
    let report = scope.check_now().expect_err("the task is still open");
    let report = runtime.block_on(leakwatch::tokio::dump::attach(report, runtime.handle()));
    handle.abort();
    report
}

/// A bb8 connection manager with nothing behind it: bb8's pool (its reaper,
/// its connections' tasks) is what a test looks at.
pub struct Nothing;

impl bb8::ManageConnection for Nothing {
    type Connection = ();
    type Error = std::convert::Infallible;

    async fn connect(&self) -> Result<(), Self::Error> {
        Ok(())
    }

    async fn is_valid(&self, _: &mut ()) -> Result<(), Self::Error> {
        Ok(())
    }

    fn has_broken(&self, _: &mut ()) -> bool {
        false
    }
}
