//! Every task on a runtime tracked and scoped, through tokio's task hooks.
//!
//! Needs `RUSTFLAGS="--cfg tokio_unstable"`: tokio's `on_task_spawn` and
//! `on_task_terminate` hooks are unstable. With them, [`install`] makes
//! *every* task spawned on the runtime a tracked item, however it was
//! spawned (plain `tokio::spawn`, a library's `JoinSet`, `Handle::spawn`):
//! kind `"task"`, opened at its spawn site in the user's code
//! (`TaskMeta::spawned_at`), with its id, in the scope that was current
//! where it was spawned. The task runs in that scope, so what it opens and
//! the tasks it spawns belong to it too, like Go's pprof labels following
//! child goroutines: [`ScopeId::current`](crate::integration::ScopeId::current) inside a
//! task asks tokio which task is running (`tokio::task::try_id`) and looks
//! its scope up. A scope entered inside the task (`Scope::run`) wins over
//! it; one entered around the runtime (the test's, around `block_on`) does
//! not.
//!
//! `#[leakwatch::test]` installs the hooks on the runtime it builds for an
//! `async fn`. Install them yourself on a long-lived runtime that many tests
//! or requests share:
//!
//! ```
//! use leakwatch::Scope;
//!
//! let mut builder = tokio::runtime::Builder::new_multi_thread();
//! leakwatch::tokio::hooks::install(&mut builder);
//! let runtime = builder.enable_all().build().unwrap();
//!
//! let test = Scope::new("my_test");
//! let _in_test = test.enter();
//! let stuck = runtime.spawn(std::future::pending::<()>()); // plain tokio
//! assert!(test.check_now().is_err() || !leakwatch::integration::COMPILED_IN);
//! stuck.abort();
//! ```
//!
//! # Gaps (tokio 1.54)
//!
//! - `spawn_blocking` fires no spawn hook, so blocking tasks are tracked
//!   only when spawned through [`leakwatch::tokio::spawn_blocking`](super::spawn_blocking).
//!   `#[leakwatch::test]` still fails when plain blocking tasks are left
//!   running on its runtime (tokio's blocking-pool metrics count them,
//!   under the same flag), without their sites.
//! - Tasks on a `LocalSet` fire no hooks: use
//!   [`leakwatch::tokio::spawn_local`](super::spawn_local).
//! - The hooks replace any spawn and terminate hooks the builder had (tokio
//!   keeps one of each).
//! - Tasks take their scope from hooked runtimes only through leakwatch's
//!   one followed table (see [`IdTable::follow`]): if your own code
//!   follows a table of its own first, the hooks still track every task, but
//!   a task then runs in its thread's scope (a warning says so once).
//! - Tasks spawned through `leakwatch::tokio` keep their own record (with
//!   their name); the hooks leave them alone.
//!
//! # Cost
//!
//! A few tens of nanoseconds per task (see `BENCHMARKS.md`): the hooks
//! record each task at its spawn and end, and a poll costs nothing: a task's
//! scope is looked up only if it opens or spawns something, once per task
//! per worker thread. Once they are installed, finding the current scope
//! (as every `Tag::new` does) asks tokio which task the thread runs, on
//! every thread: a few nanoseconds more per tracked item. While tasks (and
//! other tracked items) come and go at over half a million a second, a
//! background thread, `leakwatch-clock`, keeps the time that open times are
//! read from, so a spawn reads no clock; otherwise it wakes every 100 ms to
//! look.

use std::cell::Cell;
use std::sync::{LazyLock, Once};

use ::tokio::runtime::{Builder, TaskMeta};

use super::id;
use super::task::KIND;
use crate::integration::IdTable;

/// Makes every task spawned on runtimes built by `builder` a tracked item
/// in the spawner's scope (see the [module docs](self)). Replaces the
/// builder's task spawn and terminate hooks.
///
/// ```
/// let mut builder = tokio::runtime::Builder::new_current_thread();
/// leakwatch::tokio::hooks::install(&mut builder);
/// let runtime = builder.build().unwrap();
/// runtime.block_on(async { tokio::spawn(async {}).await.unwrap() });
/// ```
pub fn install(builder: &mut Builder) -> &mut Builder {
    static FOLLOW: Once = Once::new();
    FOLLOW.call_once(|| {
        if !TASKS.0.follow(running) && crate::integration::COMPILED_IN {
            eprintln!(
                "leakwatch: another table is followed already (`IdTable::follow`), so tasks on \
                 runtimes with leakwatch's hooks are tracked but run in their thread's scope"
            );
        }
    });
    // The hooks capture nothing. tokio keeps a clone of the terminate
    // hook's `Arc` in every task, so the cores that spawn and drop tasks
    // write its reference counts all the time: data kept beside them would
    // cross cores twice per task when the hook reads it (8 points of a
    // short task's cost on two workers, see BENCHMARKS.md).
    builder
        .on_task_spawn(|meta| spawned(&TASKS.0, meta))
        .on_task_terminate(|meta| terminated(&TASKS.0, meta))
}

/// The tasks of every hooked runtime (tokio's task ids are unique across
/// runtimes), followed (by [`install`]): code a task runs is in the task's
/// scope. Every hook reads it, from every worker, so it has its cache lines
/// to itself (128 bytes: x86 fetches lines in pairs).
static TASKS: Tasks = Tasks(LazyLock::new(|| IdTable::new(KIND)));

#[repr(align(128))]
struct Tasks(LazyLock<IdTable>);

/// The task the calling thread polls, if any.
#[inline]
fn running() -> Option<u64> {
    ::tokio::task::try_id().map(id::number)
}

/// Runs `spawn` with the hooks told that the task it spawns is tracked
/// already (by `leakwatch::tokio`'s own wrappers).
#[inline]
pub(crate) fn spawn_tracked<R>(spawn: impl FnOnce() -> R) -> R {
    let was = TRACKED_SPAWN.replace(true);
    let out = spawn();
    TRACKED_SPAWN.set(was);
    out
}

thread_local! {
    /// Set while `leakwatch::tokio` spawns a task it tracks itself.
    static TRACKED_SPAWN: Cell<bool> = const { Cell::new(false) };
}

/// Records a task spawned untracked (by anything but `leakwatch::tokio`).
#[inline]
fn spawned(tasks: &IdTable, meta: &TaskMeta<'_>) {
    if TRACKED_SPAWN.get() {
        return;
    }
    // The spawner's scope, telling the table which task spawns (rather
    // than having it ask through the function it follows).
    let scope = tasks.current_scope(running());
    tasks.open(id::number(meta.id()), meta.spawned_at(), scope);
}

/// Closes the record of a task that ended.
#[inline]
fn terminated(tasks: &IdTable, meta: &TaskMeta<'_>) {
    tasks.close(id::number(meta.id()));
}
