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
//! ```
//! use leakwatch::{Scope, Tracked};
//!
//! let scope = Scope::new("job");
//! let handle = scope.run(|| {
//!     leakwatch::thread::spawn(|| Tracked::new((), "worker-conn"))
//! });
//! let conn = handle.join().unwrap();
//! assert!(scope.check().is_err() || !leakwatch::COMPILED_IN, "the thread's item belongs to `job`");
//! drop(conn);
//! assert!(scope.check().is_ok());
//! ```

use std::io;
use std::thread::JoinHandle;

use crate::{ScopeId, Tag};

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
///     .name("loader".into())
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

    /// Names the thread; reports show the name.
    ///
    /// ```
    /// let builder = leakwatch::thread::Builder::new().name("io".into());
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
        let scope = ScopeId::current();
        let running = match &self.name {
            Some(name) => Tag::with_detail(KIND, format_args!("'{name}'")),
            None => Tag::with_detail(KIND, "unnamed"),
        };
        self.inner.spawn(move || {
            let _in_scope = scope.enter();
            // Closed when `f` returns or unwinds, before the thread is joinable.
            let _running = running;
            f()
        })
    }
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}
