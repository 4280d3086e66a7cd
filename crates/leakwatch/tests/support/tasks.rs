//! Running async code in a scope, on a runtime of its own, and checking it
//! while the runtime still runs.

use std::future::Future;
use std::time::Duration;

use leakwatch::{Report, Scope};

/// Runs `body` in a fresh scope on a current-thread runtime and checks the
/// scope with `grace`, driving the runtime while it waits. The runtime is
/// then shut down without waiting for blocking tasks that are still running.
pub fn check_async<F: Future>(grace: Duration, body: F) -> (Result<(), Report>, F::Output) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let scope = Scope::new("async");
    let out = scope.run(|| runtime.block_on(body));
    let result = scope.check_within_using(grace, |pause| {
        runtime.block_on(async move { tokio::time::sleep(pause).await })
    });
    runtime.shutdown_background();
    (result, out)
}

/// The grace the leaky cases get: long enough to show waiting did not help.
pub const SHORT: Duration = Duration::from_millis(60);
/// The grace the fixed cases get: they must pass well within it.
pub const LONG: Duration = Duration::from_secs(10);

/// A report of one task parked forever (never polled), spawned in a fresh
/// scope on a current-thread runtime, with [`leakwatch::tokio::dump::attach`]
/// applied: what a report of a leaked task looks like with or without dumps.
pub fn stuck_task_report() -> Report {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let scope = Scope::new("stuck");
    let handle = scope.run(|| {
        let _rt = runtime.enter();
        leakwatch::tokio::spawn(std::future::pending::<()>())
    });
    let report = scope.check().expect_err("the task is still open");
    let report = runtime.block_on(leakwatch::tokio::dump::attach(report, runtime.handle()));
    handle.abort();
    report
}
