//! Where leaked tasks are stuck: tokio's task dumps, joined to a report by
//! task id.
//!
//! A report says which tasks leaked and where they were spawned; a dump says
//! what each is waiting for, as its await chain. [`attach`] takes a dump of
//! the runtime and adds the chain of each leaked task to its group: the
//! user's frames one per line, marked `→`, and each run of one
//! dependency's frames as one line (`… 14 frames in hyper 1.x`); std's and
//! leakwatch's are left out. `#[leakwatch::test]` does this when a test
//! leaks a task.
//!
//! Dumps need `RUSTFLAGS="--cfg tokio_unstable"` on Linux (x86, x86_64,
//! aarch64): leakwatch's `tokio` feature then turns on tokio's `taskdump`.
//! Elsewhere [`attach`] adds a hint saying so. tokio traces a task at
//! tokio's own leaf futures (channels, timers, I/O, locks); for a task
//! waiting on anything else the report says in one line that the dump has
//! no chain for it, and why.

use std::time::Duration;

use ::tokio::runtime::Handle;

use super::{BLOCKING_KIND, KIND};
use crate::Report;

/// Whether this build takes task dumps (see the [module docs](self)).
///
/// ```
/// println!("task dumps: {}", leakwatch::tokio::dump::AVAILABLE);
/// ```
pub const AVAILABLE: bool = cfg!(leakwatch_taskdump);

/// How long [`attach`] waits for a dump: tokio's never finishes while a
/// worker is blocked (a task stuck in a blocking call).
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// `report` with, for each group of leaked tasks, where the oldest one is
/// waiting, from a dump of the runtime `handle` belongs to; or, in a build
/// without dumps, a hint on how to get them. A report without tasks is
/// returned as it is.
///
/// On a current-thread runtime, await this inside that runtime (as tokio's
/// `Handle::dump` requires).
///
/// ```
/// use leakwatch::Scope;
///
/// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// let scope = Scope::new("s");
/// let stuck = scope.run(|| {
///     let _rt = runtime.enter();
///     leakwatch::tokio::spawn(std::future::pending::<()>())
/// });
/// if let Err(report) = scope.check_now() {
///     let report = runtime.block_on(leakwatch::tokio::dump::attach(report, runtime.handle()));
///     eprintln!("{report}");
/// }
/// stuck.abort();
/// ```
pub async fn attach(report: Report, handle: &Handle) -> Report {
    let tasks = |g: &crate::integration::Group| {
        g.kind() == KIND || g.kind() == BLOCKING_KIND || !g.ids().is_empty()
    };
    if !report.groups().iter().any(tasks) {
        return report;
    }
    imp::attach(report, handle).await
}

#[cfg(leakwatch_taskdump)]
mod imp {
    use std::collections::HashMap;

    use ::tokio::runtime::Handle;

    use super::TIMEOUT;
    use crate::Report;
    use crate::tokio::id;

    pub(super) async fn attach(report: Report, handle: &Handle) -> Report {
        let Some(dump) = super::timer::within(TIMEOUT, handle.dump()).await else {
            return report.with_hint(format!(
                "no task dump: tokio's did not finish within {TIMEOUT:?} (is a runtime worker blocked?)"
            ));
        };
        let traces: HashMap<u64, String> = dump
            .tasks()
            .iter()
            .map(|task| {
                (
                    id::number(task.id()),
                    super::chain::readable(&task.trace().to_string()),
                )
            })
            .filter(|(_, chain)| !chain.is_empty())
            .collect();
        report.with_traces(|id| traces.get(&id).cloned())
    }
}

#[cfg(not(leakwatch_taskdump))]
mod imp {
    use ::tokio::runtime::Handle;

    use crate::Report;

    pub(super) async fn attach(report: Report, _handle: &Handle) -> Report {
        let how = if cfg!(leakwatch_taskdump_platform) {
            "build with RUSTFLAGS=\"--cfg tokio_unstable\" to see where each leaked task is stuck \
             (leakwatch then turns on tokio's task dumps)"
        } else {
            "where each leaked task is stuck needs tokio's task dumps: Linux on x86, x86_64 or aarch64"
        };
        report.with_hint(how)
    }
}

#[cfg_attr(not(leakwatch_taskdump), allow(dead_code))]
mod chain;
#[cfg_attr(not(leakwatch_taskdump), allow(dead_code))]
mod timer;
