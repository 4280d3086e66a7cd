//! A `JoinSet` whose tasks are tracked and scoped.

use std::fmt;
use std::future::Future;
use std::task::{Context, Poll};

use ::tokio::runtime::Handle;
use ::tokio::task::{AbortHandle, Id, JoinError, LocalSet};

use super::task::{BLOCKING_KIND, Blocking, Builder, KIND, spawn_blocking_scoped, spawn_scoped};

/// [`tokio::task::JoinSet`] whose every spawn tracks the task from the
/// caller's line and runs it in the current scope.
///
/// It offers tokio's spawners (`spawn`, `spawn_on`, `spawn_local`,
/// `spawn_local_on`, `spawn_blocking`, `spawn_blocking_on`) and its methods
/// for joining and cancelling, with tokio's meaning. It does not deref to
/// tokio's set: a spawn through it would start an untracked task.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let mut set = leakwatch::tokio::JoinSet::new();
/// for i in 0..3 {
///     set.spawn(async move { i });
/// }
/// let mut sum = 0;
/// while let Some(res) = set.join_next().await {
///     sum += res.unwrap();
/// }
/// assert_eq!(sum, 3);
/// # });
/// ```
///
/// ```compile_fail
/// let set = leakwatch::tokio::JoinSet::<()>::new();
/// let _: &tokio::task::JoinSet<()> = &set; // error: no `Deref` to tokio's set
/// ```
pub struct JoinSet<T> {
    inner: ::tokio::task::JoinSet<T>,
}

impl<T> JoinSet<T> {
    /// An empty set.
    ///
    /// ```
    /// let set = leakwatch::tokio::JoinSet::<()>::new();
    /// assert!(set.is_empty());
    /// ```
    pub fn new() -> JoinSet<T> {
        JoinSet {
            inner: ::tokio::task::JoinSet::new(),
        }
    }

    /// How many tasks are in the set, finished ones not yet joined included.
    ///
    /// ```
    /// assert_eq!(leakwatch::tokio::JoinSet::<()>::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether the set has no tasks.
    ///
    /// ```
    /// assert!(leakwatch::tokio::JoinSet::<()>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }
}

impl<T: 'static> JoinSet<T> {
    /// Spawns a tracked task into the set.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mut set = leakwatch::tokio::JoinSet::new();
    /// set.spawn(async { 1 });
    /// assert_eq!(set.join_next().await.unwrap().unwrap(), 1);
    /// # });
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    pub fn spawn<F>(&mut self, task: F) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send,
    {
        let spawn = |task| self.inner.spawn(task);
        spawn_scoped(task, Builder::new().tag(KIND), spawn, AbortHandle::id)
    }

    /// Runs `f` on the blocking pool as a tracked member of the set.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mut set = leakwatch::tokio::JoinSet::new();
    /// set.spawn_blocking(|| 2);
    /// assert_eq!(set.join_next().await.unwrap().unwrap(), 2);
    /// # });
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    pub fn spawn_blocking<F>(&mut self, f: F) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send,
    {
        let spawn = |f: Blocking<F>| self.inner.spawn_blocking(|| f.run());
        spawn_blocking_scoped(f, Builder::new().tag(BLOCKING_KIND), spawn, AbortHandle::id)
    }

    /// Spawns a tracked task into the set, on the runtime `handle` refers
    /// to.
    ///
    /// ```
    /// let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mut set = leakwatch::tokio::JoinSet::new();
    /// set.spawn_on(async { 3 }, rt.handle());
    /// assert_eq!(set.join_next().await.unwrap().unwrap(), 3);
    /// # });
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    pub fn spawn_on<F>(&mut self, task: F, handle: &Handle) -> AbortHandle
    where
        F: Future<Output = T> + Send + 'static,
        T: Send,
    {
        let spawn = |task| self.inner.spawn_on(task, handle);
        spawn_scoped(task, Builder::new().tag(KIND), spawn, AbortHandle::id)
    }

    /// Spawns a tracked `!Send` task into the set, on the current
    /// [`LocalSet`].
    ///
    /// # Panics
    ///
    /// Outside a `LocalSet` (or a local runtime).
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// tokio::task::LocalSet::new().block_on(&rt, async {
    ///     let shared = std::rc::Rc::new(4); // not Send
    ///     let mut set = leakwatch::tokio::JoinSet::new();
    ///     set.spawn_local(async move { *shared });
    ///     assert_eq!(set.join_next().await.unwrap().unwrap(), 4);
    /// });
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    pub fn spawn_local<F>(&mut self, task: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        let spawn = |task| self.inner.spawn_local(task);
        spawn_scoped(task, Builder::new().tag(KIND), spawn, AbortHandle::id)
    }

    /// Spawns a tracked `!Send` task into the set, on `local_set`.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let local = tokio::task::LocalSet::new();
    /// let mut set = leakwatch::tokio::JoinSet::new();
    /// set.spawn_local_on(async { 5 }, &local);
    /// local.run_until(async { assert_eq!(set.join_next().await.unwrap().unwrap(), 5) }).await;
    /// # });
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    pub fn spawn_local_on<F>(&mut self, task: F, local_set: &LocalSet) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
    {
        let spawn = |task| self.inner.spawn_local_on(task, local_set);
        spawn_scoped(task, Builder::new().tag(KIND), spawn, AbortHandle::id)
    }

    /// Runs `f` on the blocking pool of the runtime `handle` refers to, as a
    /// tracked member of the set.
    ///
    /// ```
    /// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mut set = leakwatch::tokio::JoinSet::new();
    /// set.spawn_blocking_on(|| 6, rt.handle());
    /// assert_eq!(set.join_next().await.unwrap().unwrap(), 6);
    /// # });
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    pub fn spawn_blocking_on<F>(&mut self, f: F, handle: &Handle) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send,
    {
        let spawn = |f: Blocking<F>| self.inner.spawn_blocking_on(|| f.run(), handle);
        spawn_blocking_scoped(f, Builder::new().tag(BLOCKING_KIND), spawn, AbortHandle::id)
    }
}

impl<T: 'static> JoinSet<T> {
    /// Waits for a task of the set to finish and returns its output, `None`
    /// when the set is empty, as [`tokio::task::JoinSet::join_next`].
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mut set = leakwatch::tokio::JoinSet::new();
    /// set.spawn(async { 1 });
    /// assert_eq!(set.join_next().await.unwrap().unwrap(), 1);
    /// assert!(set.join_next().await.is_none());
    /// # });
    /// ```
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        self.inner.join_next().await
    }

    /// Like [`JoinSet::join_next`], with the finished task's id.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mut set = leakwatch::tokio::JoinSet::new();
    /// let id = set.spawn(async { 1 }).id();
    /// assert_eq!(set.join_next_with_id().await.unwrap().unwrap(), (id, 1));
    /// # });
    /// ```
    pub async fn join_next_with_id(&mut self) -> Option<Result<(Id, T), JoinError>> {
        self.inner.join_next_with_id().await
    }

    /// The output of a task that has finished, without waiting: `None` when
    /// none has, as [`tokio::task::JoinSet::try_join_next`].
    ///
    /// ```
    /// let mut set = leakwatch::tokio::JoinSet::<()>::new();
    /// assert!(set.try_join_next().is_none());
    /// ```
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        self.inner.try_join_next()
    }

    /// Like [`JoinSet::try_join_next`], with the finished task's id.
    ///
    /// ```
    /// let mut set = leakwatch::tokio::JoinSet::<()>::new();
    /// assert!(set.try_join_next_with_id().is_none());
    /// ```
    pub fn try_join_next_with_id(&mut self) -> Option<Result<(Id, T), JoinError>> {
        self.inner.try_join_next_with_id()
    }

    /// Aborts every task and waits for them all to end, as
    /// [`tokio::task::JoinSet::shutdown`].
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mut set = leakwatch::tokio::JoinSet::new();
    /// set.spawn(std::future::pending::<()>());
    /// set.shutdown().await;
    /// assert!(set.is_empty());
    /// # });
    /// ```
    pub async fn shutdown(&mut self) {
        self.inner.shutdown().await;
    }

    /// Waits for every task and returns their outputs, as
    /// [`tokio::task::JoinSet::join_all`].
    ///
    /// # Panics
    ///
    /// When a task panicked (with its panic) or was cancelled.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mut set = leakwatch::tokio::JoinSet::new();
    /// set.spawn(async { 2 });
    /// set.spawn(async { 2 });
    /// assert_eq!(set.join_all().await.iter().sum::<i32>(), 4);
    /// # });
    /// ```
    pub async fn join_all(self) -> Vec<T> {
        self.inner.join_all().await
    }

    /// Aborts every task in the set; they stay in it until joined.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mut set = leakwatch::tokio::JoinSet::new();
    /// set.spawn(std::future::pending::<()>());
    /// set.abort_all();
    /// assert!(set.join_next().await.unwrap().unwrap_err().is_cancelled());
    /// # });
    /// ```
    pub fn abort_all(&mut self) {
        self.inner.abort_all();
    }

    /// Removes every task from the set without aborting them. They go on
    /// running and stay tracked: one still running at a check is reported.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mut set = leakwatch::tokio::JoinSet::new();
    /// set.spawn(async {});
    /// set.detach_all();
    /// assert!(set.is_empty());
    /// # });
    /// ```
    pub fn detach_all(&mut self) {
        self.inner.detach_all();
    }

    /// Polls for a finished task, as
    /// [`tokio::task::JoinSet::poll_join_next`], for hand-written futures.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mut set = leakwatch::tokio::JoinSet::new();
    /// set.spawn(async { 8 });
    /// let out = std::future::poll_fn(|cx| set.poll_join_next(cx)).await;
    /// assert_eq!(out.unwrap().unwrap(), 8);
    /// # });
    /// ```
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        self.inner.poll_join_next(cx)
    }

    /// Like [`JoinSet::poll_join_next`], with the finished task's id.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mut set = leakwatch::tokio::JoinSet::new();
    /// let id = set.spawn(async { 8 }).id();
    /// let out = std::future::poll_fn(|cx| set.poll_join_next_with_id(cx)).await;
    /// assert_eq!(out.unwrap().unwrap(), (id, 8));
    /// # });
    /// ```
    pub fn poll_join_next_with_id(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<(Id, T), JoinError>>> {
        self.inner.poll_join_next_with_id(cx)
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len()).finish()
    }
}

impl<T> Default for JoinSet<T> {
    fn default() -> JoinSet<T> {
        JoinSet::new()
    }
}

/// A set of tracked tasks, one per future, as tokio's `JoinSet` collects:
/// each task's site is the `collect` inside std, and reports add the line
/// in your code that led there (feature `stacks`).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let set: leakwatch::tokio::JoinSet<_> = (0..3).map(|i| async move { i }).collect();
/// assert_eq!(set.join_all().await.iter().sum::<i32>(), 3);
/// # });
/// ```
impl<T, F> FromIterator<F> for JoinSet<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    fn from_iter<I: IntoIterator<Item = F>>(iter: I) -> JoinSet<T> {
        let mut set = JoinSet::new();
        set.extend(iter);
        set
    }
}

/// Spawns a tracked task per future into the set, as tokio's `JoinSet`
/// extends, each opened at the caller's line.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let mut set = leakwatch::tokio::JoinSet::new();
/// set.extend((0..3).map(|i| async move { i }));
/// assert_eq!(set.len(), 3);
/// # });
/// ```
impl<T, F> Extend<F> for JoinSet<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    fn extend<I: IntoIterator<Item = F>>(&mut self, iter: I) {
        for task in iter {
            // In the body, not a closure, so the caller's line is the site.
            let tag = Builder::new().tag(KIND);
            let spawn = |task| self.inner.spawn(task);
            spawn_scoped(task, tag, spawn, AbortHandle::id);
        }
    }
}
