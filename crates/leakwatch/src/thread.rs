//! Threads that carry the current scope, and are tracked while they run.
//!
//! A thread started with [`spawn`] or [`Builder`] begins in the scope that
//! was current where it was spawned, so what it opens, and every thread it
//! starts the same way, is seen by that scope's check. The thread itself is
//! an item of kind `"thread"` (detail: its name) opened at the spawn site and
//! closed when its closure returns: a thread still running at a check, after
//! the grace period, is a leak. Threads from `std::thread::spawn` start
//! outside every scope and are not tracked.
//!
//! [`scope`] does the same for scoped threads: std joins them before
//! `scope` returns, but what they open stays with the scope that started
//! them, and a check made meanwhile sees those still running.
//!
//! ```
//! use leakwatch::{Scope, Tracked};
//!
//! let scope = Scope::new("job");
//! let handle = scope.run(|| {
//!     leakwatch::thread::spawn(|| Tracked::new((), "worker-conn"))
//! });
//! let conn = handle.join().unwrap();
//! assert!(scope.check_now().is_err() || !leakwatch::integration::COMPILED_IN, "the thread's item belongs to `job`");
//! drop(conn);
//! assert!(scope.check_now().is_ok());
//! ```

use std::io;
use std::thread::{JoinHandle, ScopedJoinHandle};

use ref_cast::{RefCastCustom, ref_cast_custom};

use crate::Tag;
use crate::integration::ScopeId;

/// The kind of tracked threads in reports.
///
/// ```
/// assert_eq!(leakwatch::thread::KIND, "thread");
/// ```
pub const KIND: &str = "thread";

/// Spawns a thread in the current scope, like [`std::thread::spawn`].
///
/// # Panics
///
/// Panics if the operating system cannot create a thread, as
/// `std::thread::spawn` does.
///
/// ```
/// let answer = leakwatch::thread::spawn(|| 6 * 7).join().unwrap();
/// assert_eq!(answer, 42);
/// ```
#[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new().spawn(f).expect("failed to spawn thread")
}

/// [`std::thread::Builder`] whose threads start in the current scope.
///
/// ```
/// let handle = leakwatch::thread::Builder::new()
///     .name("loader".to_owned())
///     .spawn(|| std::thread::current().name().map(str::to_owned))?;
/// assert_eq!(handle.join().unwrap().as_deref(), Some("loader"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Builder {
    inner: std::thread::Builder,
    name: Option<String>,
}

impl Builder {
    /// A builder with std's defaults.
    ///
    /// ```
    /// let builder = leakwatch::thread::Builder::new();
    /// ```
    pub fn new() -> Builder {
        Builder {
            inner: std::thread::Builder::new(),
            name: None,
        }
    }

    /// Names the thread, as [`std::thread::Builder::name`]; reports show
    /// the name. It takes a `String`, as std's does, so `"io".into()`
    /// infers its type.
    ///
    /// ```
    /// let builder = leakwatch::thread::Builder::new().name("io".into());
    /// let numbered = leakwatch::thread::Builder::new().name(format!("io-{}", 2));
    /// ```
    pub fn name(self, name: String) -> Builder {
        Builder {
            inner: self.inner.name(name.clone()),
            name: Some(name),
        }
    }

    /// Sets the stack size, as [`std::thread::Builder::stack_size`].
    ///
    /// ```
    /// let builder = leakwatch::thread::Builder::new().stack_size(256 * 1024);
    /// ```
    pub fn stack_size(self, size: usize) -> Builder {
        Builder {
            inner: self.inner.stack_size(size),
            ..self
        }
    }

    /// Spawns the thread in the current scope.
    ///
    /// # Errors
    ///
    /// The operating system's error when it cannot create a thread.
    ///
    /// ```
    /// let handle = leakwatch::thread::Builder::new().spawn(|| 1)?;
    /// assert_eq!(handle.join().unwrap(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let running = self.running();
        // Tracked here, so not also as a thread seen by libc.
        crate::interposed::unrecorded(|| self.inner.spawn(tracked(running, f)))
    }

    /// Spawns a scoped thread in the current scope, as
    /// [`std::thread::Builder::spawn_scoped`]: the thread is an item of
    /// kind `"thread"` until `f` returns, with its name as the detail.
    ///
    /// # Errors
    ///
    /// The operating system's error when it cannot create a thread.
    ///
    /// ```
    /// let mut rows = vec![1, 2];
    /// leakwatch::thread::scope(|s| {
    ///     let handle = leakwatch::thread::Builder::new()
    ///         .name("appender".into())
    ///         .spawn_scoped(s, || rows.push(3))?;
    ///     handle.join().unwrap();
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// assert_eq!(rows, [1, 2, 3]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    pub fn spawn_scoped<'scope, 'env, F, T>(
        self,
        scope: &'scope ThreadScope<'scope, 'env>,
        f: F,
    ) -> io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let body = tracked(self.running(), f);
        let inner = self.inner;
        crate::interposed::unrecorded(|| inner.spawn_scoped(&scope.inner, body))
    }

    /// The item a thread spawned from the caller's line is while it runs.
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    fn running(&self) -> Tag {
        match &self.name {
            Some(name) => Tag::with_detail(KIND, format_args!("'{name}'")),
            None => Tag::with_detail(KIND, "unnamed"),
        }
    }
}

/// Runs `f` with a [`ThreadScope`] for spawning scoped threads that carry
/// the current scope, like [`std::thread::scope`]; every thread is joined
/// before it returns.
///
/// # Panics
///
/// If a thread spawned in it panicked and was not joined, as
/// `std::thread::scope` does.
///
/// ```
/// let mut rows = vec![1, 2, 3];
/// leakwatch::thread::scope(|s| {
///     s.spawn(|| rows.push(4));
/// });
/// assert_eq!(rows.len(), 4);
/// ```
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope ThreadScope<'scope, 'env>) -> T,
{
    std::thread::scope(|inner| f(ThreadScope::from_std(inner)))
}

/// Spawns scoped threads in the current scope: [`std::thread::Scope`] with
/// tracking. Made by [`scope`], which lends it for `'scope` as std lends
/// its `Scope`, so a scoped thread can spawn more through it.
///
/// ```
/// leakwatch::thread::scope(|s| {
///     let handle = s.spawn(|| 1 + 1);
///     assert_eq!(handle.join().unwrap(), 2);
///     s.spawn(|| s.spawn(|| "from a scoped thread"));
/// });
/// ```
#[derive(Debug, RefCastCustom)]
#[repr(transparent)]
pub struct ThreadScope<'scope, 'env: 'scope> {
    inner: std::thread::Scope<'scope, 'env>,
}

impl<'scope, 'env> ThreadScope<'scope, 'env> {
    /// std's scope as leakwatch's, borrowed for as long.
    #[ref_cast_custom]
    fn from_std(inner: &'scope std::thread::Scope<'scope, 'env>) -> &'scope Self;

    /// Spawns a scoped thread that starts in the current scope and is an
    /// item of kind `"thread"` until `f` returns, like
    /// [`std::thread::Scope::spawn`].
    ///
    /// # Panics
    ///
    /// If the operating system cannot create a thread.
    ///
    /// ```
    /// let total = leakwatch::thread::scope(|s| {
    ///     let a = s.spawn(|| 20);
    ///     let b = s.spawn(|| 22);
    ///     a.join().unwrap() + b.join().unwrap()
    /// });
    /// assert_eq!(total, 42);
    /// ```
    #[cfg_attr(any(debug_assertions, feature = "production"), track_caller)]
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let body = tracked(Tag::with_detail(KIND, "scoped"), f);
        crate::interposed::unrecorded(|| self.inner.spawn(body))
    }
}

/// `f` as a thread's body: run in the caller's current scope, with
/// `running` open until `f` returns or unwinds (before the thread is
/// joinable).
fn tracked<F, T>(running: Tag, f: F) -> impl FnOnce() -> T
where
    F: FnOnce() -> T,
{
    let scope = ScopeId::current();
    move || {
        let _in_scope = scope.enter();
        let _running = running;
        f()
    }
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}
