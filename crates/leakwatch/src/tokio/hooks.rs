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

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use ::tokio::runtime::{Builder, TaskMeta};
use spin::mutex::SpinMutex;
use spin::relax::Yield;

use super::id;
use super::task::KIND;
use crate::{Origin, ScopeGuard, ScopeId, Tag};

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
    let tasks = Arc::new(Tasks::default());
    let (spawned, polled, terminated) = (tasks.clone(), tasks.clone(), tasks);
    builder
        .on_task_spawn(move |meta| spawned.spawned(meta))
        .on_before_task_poll(move |meta| polled.before_poll(meta))
        .on_after_task_poll(|_| after_poll())
        .on_task_terminate(move |meta| terminated.terminated(meta))
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

/// Spreads the tasks of a busy runtime over locks, by id.
const SHARDS: usize = 32;

/// The tracked tasks of the runtimes one `install` configured.
#[derive(Default)]
struct Tasks {
    shards: [SpinMutex<Shard, Yield>; SHARDS],
}

type Shard = HashMap<u64, Task, BuildHasherDefault<IdHasher>>;

struct Task {
    scope: ScopeId,
    // Dropped when the task terminates, closing its record.
    _tag: Tag,
}

impl Tasks {
    fn shard(&self, id: u64) -> &SpinMutex<Shard, Yield> {
        &self.shards[id as usize % SHARDS]
    }

    fn spawned(&self, meta: &TaskMeta<'_>) {
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
            self.shard(id).lock().insert(id, Task { scope, _tag: tag });
        }
    }

    fn before_poll(&self, meta: &TaskMeta<'_>) {
        let id = id::number(meta.id());
        let scope = self.shard(id).lock().get(&id).map(|task| task.scope);
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

    fn terminated(&self, meta: &TaskMeta<'_>) {
        let id = id::number(meta.id());
        let task = self.shard(id).lock().remove(&id);
        // The record closes here, outside the lock.
        drop(task);
    }
}

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

/// Task ids are sequential: no need for SipHash.
#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}
