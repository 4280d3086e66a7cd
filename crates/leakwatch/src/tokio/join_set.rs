//! A `JoinSet` whose tasks are tracked and scoped.

use std::future::Future;
use std::ops::{Deref, DerefMut};

use ::tokio::task::AbortHandle;

use super::task::{BLOCKING_KIND, Blocking, Builder, KIND, spawn_blocking_scoped, spawn_scoped};

/// [`tokio::task::JoinSet`] whose `spawn` and `spawn_blocking` track each
/// task from the caller's line and run it in the current scope. Everything
/// else (`join_next`, `abort_all`, `shutdown`, ...) is tokio's, through
/// `Deref`.
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
#[derive(Debug)]
pub struct JoinSet<T> {
    inner: ::tokio::task::JoinSet<T>,
}

impl<T: 'static> JoinSet<T> {
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
}

impl<T: 'static> Default for JoinSet<T> {
    fn default() -> JoinSet<T> {
        JoinSet::new()
    }
}

impl<T> Deref for JoinSet<T> {
    type Target = ::tokio::task::JoinSet<T>;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl<T> DerefMut for JoinSet<T> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.inner
    }
}
