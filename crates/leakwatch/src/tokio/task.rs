//! Spawning tracked, scoped tasks.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use ::tokio::runtime::Handle;
use ::tokio::task::{JoinHandle, LocalSet};

use crate::Tag;
use crate::integration::ScopeId;

/// The kind of tracked tasks in reports.
///
/// ```
/// assert_eq!(leakwatch::tokio::KIND, "task");
/// ```
pub const KIND: &str = "task";

/// The kind of tracked blocking tasks in reports.
///
/// ```
/// assert_eq!(leakwatch::tokio::BLOCKING_KIND, "blocking-task");
/// ```
pub const BLOCKING_KIND: &str = "blocking-task";

pin_project_lite::pin_project! {
    /// A future that runs every poll in a scope and is tracked until it is
    /// dropped (on completion, abort or runtime shutdown).
    ///
    /// ```
    /// let fut = leakwatch::tokio::Scoped::new(async { 1 }, leakwatch::Tag::new("task"));
    /// # drop(fut);
    /// ```
    pub struct Scoped<F> {
        // First, so the record closes before the future's own resources.
        tag: Tag,
        scope: ScopeId,
        // Whether the task's id is still to be recorded, at the first poll.
        // `leakwatch::tokio`'s own spawns record it from the join handle
        // instead, on the spawning thread, so a task not polled yet has it.
        id_pending: bool,
        #[pin]
        future: F,
    }
}

impl<F> Scoped<F> {
    /// Wraps `future` to run in the current scope, tracked by `tag`.
    ///
    /// ```
    /// let fut = leakwatch::tokio::Scoped::new(async {}, leakwatch::Tag::new("job"));
    /// # drop(fut);
    /// ```
    pub fn new(future: F, tag: Tag) -> Scoped<F> {
        Scoped {
            tag,
            scope: ScopeId::current(),
            id_pending: true,
            future,
        }
    }

    /// Wraps `future` for a spawn that records the task's id itself.
    fn without_id(future: F, tag: Tag) -> Scoped<F> {
        Scoped {
            id_pending: false,
            ..Scoped::new(future, tag)
        }
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if *this.id_pending {
            *this.id_pending = false;
            if let Some(id) = ::tokio::task::try_id() {
                this.tag.set_id(super::id::number(id));
            }
        }
        let _in_scope = this.scope.enter();
        this.future.poll(cx)
    }
}

impl<F> fmt::Debug for Scoped<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scoped")
            .field("scope", &self.scope)
            .finish()
    }
}

/// Runs `spawn`, telling the runtime hooks (if installed) that the task is
/// tracked already.
#[cfg(tokio_unstable)]
pub(crate) use super::hooks::spawn_tracked;

/// Runs `spawn`: without `--cfg tokio_unstable` there are no hooks to tell.
#[cfg(not(tokio_unstable))]
#[inline(always)]
pub(crate) fn spawn_tracked<R>(spawn: impl FnOnce() -> R) -> R {
    spawn()
}

/// Spawns `future` tracked by `tag` with `spawn`, then gives the task's
/// record its id (`id` reads it from the handle).
#[inline]
pub(crate) fn spawn_scoped<F, H>(
    future: F,
    tag: Tag,
    spawn: impl FnOnce(Scoped<F>) -> H,
    id: impl FnOnce(&H) -> ::tokio::task::Id,
) -> H {
    let late = tag.id_setter();
    let handle = spawn_tracked(|| spawn(Scoped::without_id(future, tag)));
    late.set(super::id::number(id(&handle)));
    handle
}

/// Spawns `f` tracked by `tag` with `spawn` (onto the blocking pool), then
/// gives its record the task's id (`id` reads it from the handle).
#[inline]
pub(crate) fn spawn_blocking_scoped<F, R, H>(
    f: F,
    tag: Tag,
    spawn: impl FnOnce(Blocking<F>) -> H,
    id: impl FnOnce(&H) -> ::tokio::task::Id,
) -> H
where
    F: FnOnce() -> R,
{
    let late = tag.id_setter();
    let scope = ScopeId::current();
    let handle = spawn(Blocking { tag, scope, f });
    late.set(super::id::number(id(&handle)));
    handle
}

/// A function for the blocking pool, tracked until it returns and run in
/// the scope that spawned it.
pub(crate) struct Blocking<F> {
    tag: Tag,
    scope: ScopeId,
    f: F,
}

impl<F> Blocking<F> {
    /// Runs the function.
    pub(crate) fn run<R>(self) -> R
    where
        F: FnOnce() -> R,
    {
        let _running = self.tag;
        let _in_scope = self.scope.enter();
        (self.f)()
    }
}

/// Spawns a tracked task in the current scope, like [`tokio::spawn`].
///
/// # Panics
///
/// Outside a tokio runtime, as `tokio::spawn` does.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let answer = leakwatch::tokio::spawn(async { 6 * 7 }).await.unwrap();
/// assert_eq!(answer, 42);
/// # });
/// ```
#[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn_scoped(
        future,
        Builder::new().tag(KIND),
        ::tokio::spawn,
        JoinHandle::id,
    )
}

/// Runs `f` on tokio's blocking pool, tracked and in the current scope,
/// like [`tokio::task::spawn_blocking`].
///
/// # Panics
///
/// Outside a tokio runtime, as `tokio::task::spawn_blocking` does.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let n = leakwatch::tokio::spawn_blocking(|| 7).await.unwrap();
/// assert_eq!(n, 7);
/// # });
/// ```
#[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let spawn = |f: Blocking<F>| ::tokio::task::spawn_blocking(|| f.run());
    spawn_blocking_scoped(f, Builder::new().tag(BLOCKING_KIND), spawn, JoinHandle::id)
}

/// Spawns a tracked `!Send` task on the current [`LocalSet`](::tokio::task::LocalSet),
/// in the current scope, like [`tokio::task::spawn_local`]. tokio's runtime
/// hooks do not see `LocalSet` tasks, so this is how they are tracked even
/// with `--cfg tokio_unstable`.
///
/// # Panics
///
/// Outside a `LocalSet`, as `tokio::task::spawn_local` does.
///
/// ```
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let local = tokio::task::LocalSet::new();
/// local.block_on(&rt, async {
///     let shared = std::rc::Rc::new(5); // not Send
///     let n = leakwatch::tokio::spawn_local(async move { *shared + 1 }).await.unwrap();
///     assert_eq!(n, 6);
/// });
/// ```
#[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let tag = Builder::new().tag(KIND);
    spawn_scoped(future, tag, ::tokio::task::spawn_local, JoinHandle::id)
}

/// The tag of a named task (out of line: unnamed ones are the fast path).
#[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
#[inline(never)]
fn named_tag(kind: &'static str, name: &str) -> Tag {
    Tag::with_detail(kind, format_args!("'{name}'"))
}

/// Spawns tasks with a name, shown as the detail in reports: tokio's
/// [`task::Builder`](https://docs.rs/tokio/1/tokio/task/struct.Builder.html)
/// (which needs `--cfg tokio_unstable`) with tracking, taking and returning
/// what tokio's takes and returns.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let handle = leakwatch::tokio::Builder::new().name("ticker").spawn(async {})?;
/// handle.await.unwrap();
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug, Default)]
pub struct Builder<'a> {
    name: Option<&'a str>,
}

impl<'a> Builder<'a> {
    /// A builder for an unnamed task.
    ///
    /// ```
    /// let builder = leakwatch::tokio::Builder::new();
    /// ```
    pub fn new() -> Builder<'a> {
        Builder { name: None }
    }

    /// Names the task; reports show the name. It takes a `&str` borrowed
    /// for the builder's life, as tokio's `Builder::name` does.
    ///
    /// ```
    /// let builder = leakwatch::tokio::Builder::new().name("consumer");
    /// let name = format!("consumer-{}", 2);
    /// let numbered = leakwatch::tokio::Builder::new().name(&name);
    /// ```
    pub fn name(&self, name: &'a str) -> Builder<'a> {
        Builder { name: Some(name) }
    }

    /// The tag for a task of `kind` spawned from the caller's line.
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    #[inline]
    pub(crate) fn tag(&self, kind: &'static str) -> Tag {
        // An unnamed task has no detail: a detail costs an allocation per
        // spawn, a third of what tracking adds to a spawn.
        match self.name {
            Some(name) => named_tag(kind, name),
            None => Tag::new(kind),
        }
    }

    /// Spawns the task on the current runtime, like [`tokio::spawn`].
    ///
    /// # Errors
    ///
    /// None today: tokio's builder returns `io::Result` to leave room for
    /// spawns that fail, and this one returns what tokio's returns.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// leakwatch::tokio::Builder::new().name("once").spawn(async {})?.await.unwrap();
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    pub fn spawn<Fut>(self, future: Fut) -> io::Result<JoinHandle<Fut::Output>>
    where
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        Ok(spawn_scoped(
            future,
            self.tag(KIND),
            ::tokio::spawn,
            JoinHandle::id,
        ))
    }

    /// Spawns the task on the runtime `handle` refers to, like tokio's
    /// `Builder::spawn_on`.
    ///
    /// # Errors
    ///
    /// None today, as [`Builder::spawn`].
    ///
    /// ```
    /// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let task = leakwatch::tokio::Builder::new().name("on").spawn_on(async { 1 }, rt.handle())?;
    /// assert_eq!(rt.block_on(task).unwrap(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    pub fn spawn_on<Fut>(self, future: Fut, handle: &Handle) -> io::Result<JoinHandle<Fut::Output>>
    where
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        let spawn = |future| handle.spawn(future);
        Ok(spawn_scoped(future, self.tag(KIND), spawn, JoinHandle::id))
    }

    /// Spawns a `!Send` task on the current [`LocalSet`], like
    /// [`spawn_local`].
    ///
    /// # Errors
    ///
    /// None today, as [`Builder::spawn`].
    ///
    /// # Panics
    ///
    /// Outside a `LocalSet`.
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// tokio::task::LocalSet::new().block_on(&rt, async {
    ///     let shared = std::rc::Rc::new(5); // not Send
    ///     let task = leakwatch::tokio::Builder::new().name("local").spawn_local(async move { *shared })?;
    ///     assert_eq!(task.await.unwrap(), 5);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    pub fn spawn_local<Fut>(self, future: Fut) -> io::Result<JoinHandle<Fut::Output>>
    where
        Fut: Future + 'static,
        Fut::Output: 'static,
    {
        let tag = self.tag(KIND);
        Ok(spawn_scoped(
            future,
            tag,
            ::tokio::task::spawn_local,
            JoinHandle::id,
        ))
    }

    /// Spawns a `!Send` task on `local_set`, like tokio's
    /// `Builder::spawn_local_on`.
    ///
    /// # Errors
    ///
    /// None today, as [`Builder::spawn`].
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let local = tokio::task::LocalSet::new();
    /// let task = leakwatch::tokio::Builder::new().spawn_local_on(async { 6 }, &local)?;
    /// assert_eq!(local.block_on(&rt, task).unwrap(), 6);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    pub fn spawn_local_on<Fut>(
        self,
        future: Fut,
        local_set: &LocalSet,
    ) -> io::Result<JoinHandle<Fut::Output>>
    where
        Fut: Future + 'static,
        Fut::Output: 'static,
    {
        let spawn = |future| local_set.spawn_local(future);
        Ok(spawn_scoped(future, self.tag(KIND), spawn, JoinHandle::id))
    }

    /// Runs `function` on the blocking pool, like
    /// [`tokio::task::spawn_blocking`].
    ///
    /// # Errors
    ///
    /// None today, as [`Builder::spawn`].
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let handle = leakwatch::tokio::Builder::new().name("hash").spawn_blocking(|| 1)?;
    /// assert_eq!(handle.await.unwrap(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    pub fn spawn_blocking<Function, Output>(
        self,
        function: Function,
    ) -> io::Result<JoinHandle<Output>>
    where
        Function: FnOnce() -> Output + Send + 'static,
        Output: Send + 'static,
    {
        let spawn = |f: Blocking<Function>| ::tokio::task::spawn_blocking(|| f.run());
        Ok(spawn_blocking_scoped(
            function,
            self.tag(BLOCKING_KIND),
            spawn,
            JoinHandle::id,
        ))
    }

    /// Runs `function` on the blocking pool of the runtime `handle` refers
    /// to, like tokio's `Builder::spawn_blocking_on`.
    ///
    /// # Errors
    ///
    /// None today, as [`Builder::spawn`].
    ///
    /// ```
    /// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let task = leakwatch::tokio::Builder::new().spawn_blocking_on(|| 7, rt.handle())?;
    /// assert_eq!(rt.block_on(task).unwrap(), 7);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    pub fn spawn_blocking_on<Function, Output>(
        self,
        function: Function,
        handle: &Handle,
    ) -> io::Result<JoinHandle<Output>>
    where
        Function: FnOnce() -> Output + Send + 'static,
        Output: Send + 'static,
    {
        let spawn = |f: Blocking<Function>| handle.spawn_blocking(|| f.run());
        Ok(spawn_blocking_scoped(
            function,
            self.tag(BLOCKING_KIND),
            spawn,
            JoinHandle::id,
        ))
    }
}
