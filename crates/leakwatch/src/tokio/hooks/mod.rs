//! Every task on a runtime tracked and scoped, through tokio's task hooks.
//!
//! Needs `RUSTFLAGS="--cfg tokio_unstable"`: tokio's `on_task_spawn`,
//! `on_before_task_poll`, `on_after_task_poll` and `on_task_terminate`
//! hooks are unstable. With them, [`install`] makes *every* task spawned on
//! the runtime a tracked item, however it was spawned (plain `tokio::spawn`,
//! a library's `JoinSet`, `Handle::spawn`): kind `"task"`, opened at its
//! spawn site in the user's code (`TaskMeta::spawned_at`), with its id, in
//! the scope that was current where it was spawned. Each poll runs in that
//! scope, so what a task opens and the tasks it spawns belong to it too, like
//! Go's pprof labels following child goroutines.
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
//! assert!(test.check().is_err() || !leakwatch::COMPILED_IN);
//! stuck.abort();
//! ```
//!
//! # Gaps (tokio 1.54)
//!
//! - `spawn_blocking` fires no spawn hook, so blocking tasks are tracked
//!   only when spawned through [`leakwatch::tokio::spawn_blocking`](super::spawn_blocking).
//! - Tasks on a `LocalSet` fire no hooks: use
//!   [`leakwatch::tokio::spawn_local`](super::spawn_local).
//! - The hooks replace any the builder had (tokio keeps one of each).
//! - Tasks spawned through `leakwatch::tokio` keep their own record (with
//!   their name); the hooks leave them alone.

mod table;

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use ::tokio::runtime::{Builder, TaskMeta};

use super::id;
use super::task::KIND;
use crate::{Origin, ScopeGuard, ScopeId, Tag};
use table::{Table, Task};

/// Makes every task spawned on runtimes built by `builder` a tracked item
/// in the spawner's scope (see the [module docs](self)). Replaces the
/// builder's task spawn, poll and terminate hooks.
///
/// ```
/// let mut builder = tokio::runtime::Builder::new_current_thread();
/// leakwatch::tokio::hooks::install(&mut builder);
/// let runtime = builder.build().unwrap();
/// runtime.block_on(async { tokio::spawn(async {}).await.unwrap() });
/// ```
pub fn install(builder: &mut Builder) -> &mut Builder {
    let tasks = Arc::new(Table::default());
    let (on_spawn, on_poll, on_terminate) = (tasks.clone(), tasks.clone(), tasks);
    builder
        .on_task_spawn(move |meta| spawned(&on_spawn, meta))
        .on_before_task_poll(move |meta| before_poll(&on_poll, meta))
        .on_after_task_poll(|_| after_poll())
        .on_task_terminate(move |meta| terminated(&on_terminate, meta))
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
    /// What the poll running on this thread entered, restored after it.
    static POLLING: Cell<Poll> = const { Cell::new(Poll::Idle) };
    /// Outer polls' entries, were polls ever to nest on one thread (tokio
    /// does not nest them; this keeps the hooks correct if it one day does).
    static OUTER: RefCell<Vec<Poll>> = const { RefCell::new(Vec::new()) };
}

/// What a poll on this thread entered.
#[derive(Default)]
enum Poll {
    /// No poll is running.
    #[default]
    Idle,
    /// A poll of a task the hooks do not track.
    Untracked,
    /// A poll in a task's scope; dropping the guard restores the thread's.
    InScope { _guard: ScopeGuard },
}

/// Records a task spawned untracked (by anything but `leakwatch::tokio`).
fn spawned(tasks: &Table, meta: &TaskMeta<'_>) {
    if TRACKED_SPAWN.get() {
        return;
    }
    let id = id::number(meta.id());
    let scope = ScopeId::current();
    let origin = Origin {
        site: meta.spawned_at(),
        scope,
        id: Some(id),
    };
    let tag = Tag::recorded(KIND, origin);
    if tag.is_tracked() {
        tasks.insert(id, Task { scope, _tag: tag });
    }
}

/// Enters the scope of the task about to be polled.
fn before_poll(tasks: &Table, meta: &TaskMeta<'_>) {
    let id = id::number(meta.id());
    let scope = tasks.scope(id);
    let poll = match scope {
        Some(scope) => Poll::InScope {
            _guard: scope.enter(),
        },
        None => Poll::Untracked,
    };
    // A thread being torn down has no thread-locals: nothing to enter.
    let _ = POLLING.try_with(|polling| {
        let outer = polling.replace(poll);
        if !matches!(outer, Poll::Idle) {
            OUTER.with_borrow_mut(|polls| polls.push(outer));
        }
    });
}

/// Closes the record of a task that ended.
fn terminated(tasks: &Table, meta: &TaskMeta<'_>) {
    let id = id::number(meta.id());
    let task = tasks.remove(id);
    // The record closes here, outside the lock.
    drop(task);
}

/// Leaves the scope the poll entered.
fn after_poll() {
    let _ = POLLING.try_with(|polling| {
        let outer = OUTER
            .try_with(|polls| polls.borrow_mut().pop())
            .ok()
            .flatten();
        // Drops this poll's guard, restoring the thread's scope.
        drop(polling.replace(outer.unwrap_or_default()));
    });
}
