//! Tokio tasks that carry the current scope and are tracked while they run.
//!
//! A task spawned with [`spawn`], [`spawn_blocking`], [`spawn_local`],
//! [`Builder`] or a [`JoinSet`] is an item of kind `"task"` (`"blocking-task"` for blocking
//! ones), opened at the spawn site with its name as the detail, and closed
//! when the task completes or is aborted. Every poll of the task runs in the
//! scope that was current where it was spawned, so what the task opens, and
//! every task it spawns the same way, is seen by that scope's check, across
//! worker threads. A task still running at a check, after the grace period,
//! is a leak: the Rust form of a leaked goroutine.
//!
//! ```
//! use leakwatch::Scope;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let scope = Scope::new("server");
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let _in = scope.enter();
//! let monitor = leakwatch::tokio::Builder::new()
//!     .name("monitor")
//!     .spawn(async move { stopped.await.ok() })?;
//! assert!(scope.check_now().is_err() || !leakwatch::integration::COMPILED_IN, "the monitor is still running");
//! stop.send(()).unwrap();
//! monitor.await.unwrap();
//! assert!(scope.check_now().is_ok());
//! # Ok::<(), std::io::Error>(())
//! # }).unwrap();
//! ```
//!
//! Tasks spawned with plain `tokio::spawn` are not tracked and start in no
//! scope; `#[leakwatch::test]` on an `async fn` still notices them through
//! the test runtime's count of alive tasks (plain `spawn_blocking` tasks
//! only with `--cfg tokio_unstable`, which lets tokio count them). With `--cfg tokio_unstable`,
//! the `hooks` module tracks every task of a runtime however it was spawned, and
//! [`dump`] shows in reports where each leaked task is stuck.

pub mod dump;
#[cfg(tokio_unstable)]
pub mod hooks;
mod id;
mod join_set;
mod task;

pub use id::number as task_id_as_u64;
pub use join_set::JoinSet;
pub(crate) use leakwatch_core::counted;
pub use task::{BLOCKING_KIND, Builder, KIND, Scoped, spawn, spawn_blocking, spawn_local};
