//! What a query returns: what is open, as plain owned copies free of the
//! tables' layout.

use std::time::Instant;

use leakwatch_core::ScopeId;

/// Where and when something was created.
///
/// ```
/// let scope = leakwatch_core::Scope::new("s");
/// for fd in leakwatch_interpose::open_in(&[scope.id()]).fds {
///     println!("fd {} opened by {} on thread {}", fd.fd, fd.created.call, fd.created.thread);
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Created {
    /// The scope current on the creating thread.
    pub scope: ScopeId,
    /// When the creating call returned.
    pub at: Instant,
    /// The creating thread's kernel id (`gettid`).
    pub thread: i32,
    /// The libc function that created it (`"open64"`, `"pthread_create"`).
    pub call: &'static str,
    /// Return addresses at the creating call, innermost first, not
    /// symbolized; the first frames are the interposed function's own.
    /// Empty unless stacks are captured (see [`crate::set_stacks`]).
    pub stack: Vec<usize>,
}

impl Created {
    /// [`Created::stack`] from the caller of the interposed function on:
    /// without this crate's own frames (the hook and what records), which
    /// come first. Telling them apart takes their symbols, so this is for
    /// a report, not for every creation. Empty when no stack was captured.
    ///
    /// ```
    /// let scope = leakwatch_core::Scope::new("s");
    /// for fd in leakwatch_interpose::open_in(&[scope.id()]).fds {
    ///     println!("{} frames from the caller", fd.created.caller_stack().len());
    /// }
    /// ```
    pub fn caller_stack(&self) -> &[usize] {
        let ours = self
            .stack
            .iter()
            .take(HOOK_FRAMES)
            .rposition(|&ip| self.is_hook_frame(ip))
            .map_or(0, |at| at + 1);
        &self.stack[ours..]
    }

    /// The function that called into the language's runtime to create it:
    /// the first frame of [`Created::caller_stack`] outside std, core and
    /// alloc, symbolized (so for a report). `None` without a stack.
    ///
    /// ```
    /// let scope = leakwatch_core::Scope::new("s");
    /// for t in leakwatch_interpose::open_in(&[scope.id()]).threads {
    ///     println!("started by {:?}", t.created.opener());
    /// }
    /// ```
    pub fn opener(&self) -> Option<String> {
        self.caller_stack().iter().find_map(|&ip| {
            let mut found = None;
            resolve(ip, |name| {
                let bare = name.trim_start_matches('<');
                if found.is_none()
                    && !["std::", "core::", "alloc::"]
                        .iter()
                        .any(|p| bare.starts_with(p))
                {
                    found = Some(name.to_owned());
                }
            });
            found
        })
    }

    /// Whether `ip` is in this crate or in the interposed function itself
    /// (defined here, but named as libc names it).
    fn is_hook_frame(&self, ip: usize) -> bool {
        let mut ours = false;
        resolve(ip, |name| {
            let bare = name.trim_start_matches('<');
            ours |= bare.starts_with("leakwatch_interpose::") || name == self.call;
        });
        ours
    }
}

/// Calls `each` with the demangled name (without its hash) of every
/// function at `ip`, inlined ones first.
#[cfg(target_os = "linux")]
fn resolve(ip: usize, mut each: impl FnMut(&str)) {
    backtrace::resolve(ip as *mut std::ffi::c_void, |symbol| {
        if let Some(name) = symbol.name() {
            each(&format!("{name:#}"));
        }
    });
}

#[cfg(not(target_os = "linux"))]
fn resolve(_ip: usize, _each: impl FnMut(&str)) {}

/// How many frames at the top of a stack may be this crate's: the
/// interposed function, what it calls to record, and the capture (more in
/// a debug build, where nothing is inlined).
const HOOK_FRAMES: usize = 12;

/// A descriptor created in a queried scope and still open.
///
/// ```
/// let scope = leakwatch_core::Scope::new("s");
/// let open = leakwatch_interpose::open_in(&[scope.id()]);
/// assert!(open.fds.is_empty());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenFd {
    /// The descriptor number.
    pub fd: i32,
    /// Where and when it was created.
    pub created: Created,
}

/// A thread started in a queried scope whose start routine has not
/// returned.
///
/// ```
/// let scope = leakwatch_core::Scope::new("s");
/// for t in leakwatch_interpose::open_in(&[scope.id()]).threads {
///     println!("thread {:?} started by {}", t.tid, t.created.thread);
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenThread {
    /// The thread's kernel id, `None` until the thread has begun running.
    pub tid: Option<i32>,
    /// Where and when it was created.
    pub created: Created,
}

/// A child process started in a queried scope and not yet waited for.
///
/// ```
/// let scope = leakwatch_core::Scope::new("s");
/// for c in leakwatch_interpose::open_in(&[scope.id()]).children {
///     println!("child {} not waited for", c.pid);
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenChild {
    /// The child's process id.
    pub pid: i32,
    /// Where and when it was created.
    pub created: Created,
}

/// Everything a set of scopes has open, oldest first within each kind.
///
/// ```
/// let scope = leakwatch_core::Scope::new("s");
/// let open = leakwatch_interpose::open_in(&[scope.id()]);
/// assert!(open.is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Open {
    /// Open descriptors.
    pub fds: Vec<OpenFd>,
    /// Running threads.
    pub threads: Vec<OpenThread>,
    /// Children not waited for.
    pub children: Vec<OpenChild>,
}

impl Open {
    /// True when nothing is open.
    ///
    /// ```
    /// assert!(leakwatch_interpose::Open::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.fds.is_empty() && self.threads.is_empty() && self.children.is_empty()
    }

    /// The counts of what is open.
    ///
    /// ```
    /// let open = leakwatch_interpose::Open::default();
    /// assert_eq!(open.counts(), leakwatch_interpose::OpenCounts::default());
    /// ```
    pub fn counts(&self) -> OpenCounts {
        OpenCounts {
            fds: self.fds.len(),
            threads: self.threads.len(),
            children: self.children.len(),
        }
    }
}

/// How many descriptors, threads and children a set of scopes has open.
///
/// ```
/// let scope = leakwatch_core::Scope::new("s");
/// assert_eq!(leakwatch_interpose::counts_in(&[scope.id()]).total(), 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct OpenCounts {
    /// Open descriptors.
    pub fds: usize,
    /// Running threads.
    pub threads: usize,
    /// Children not waited for.
    pub children: usize,
}

impl OpenCounts {
    /// The sum of the three counts.
    ///
    /// ```
    /// assert_eq!(leakwatch_interpose::OpenCounts::default().total(), 0);
    /// ```
    pub fn total(&self) -> usize {
        self.fds + self.threads + self.children
    }
}

/// Whether this build and platform see descriptors, threads and children
/// that code outside leakwatch creates.
///
/// ```
/// match leakwatch_interpose::support() {
///     leakwatch_interpose::Support::Active => {}
///     leakwatch_interpose::Support::Unavailable(why) => eprintln!("leakwatch: {why}"),
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    /// Creations are recorded, per scope.
    Active,
    /// Nothing is recorded, for the reason given.
    Unavailable(&'static str),
}
