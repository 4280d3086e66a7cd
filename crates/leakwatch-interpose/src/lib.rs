//! Descriptors, threads and child processes that any code in the process
//! creates, charged to the leakwatch scope that was current when it did.
//!
//! leakwatch's wrappers (`leakwatch::fs`, `leakwatch::thread`, `Tag`) see
//! only what goes through them. Most descriptors, threads and children of a
//! real program are made by std, tokio, hyper and database drivers that will
//! never use them. This crate sees those by interposing the libc functions
//! that create and end them: linked into an executable, its `open64`,
//! `socket`, `pthread_create`, `posix_spawnp`, `close`, `waitpid` and the
//! rest are what the executable's code calls. Each creation records the
//! scope current on the creating thread ([`ScopeId::current`]), the time,
//! the thread and, when asked for, the raw stack.
//!
//! A check then asks what a scope and its children still have open:
//!
//! ```
//! use leakwatch_core::Scope;
//!
//! let scope = Scope::new("test");
//! let file = scope.run(|| std::fs::File::open("Cargo.toml").unwrap());
//! let open = leakwatch_interpose::open_in(&[scope.id()]);
//! if leakwatch_interpose::support() == leakwatch_interpose::Support::Active {
//!     assert_eq!(open.fds.len(), 1);
//!     assert_eq!(open.fds[0].created.call, "open64");
//! }
//! drop(file);
//! assert_eq!(leakwatch_interpose::counts_in(&[scope.id()]).fds, 0);
//! ```
//!
//! # What is seen
//!
//! Descriptors: `open`, `open64`, `openat`, `openat64`, `creat`,
//! `creat64`, `socket`, `socketpair`, `accept`, `accept4`, `pipe`,
//! `pipe2`, `dup`, `dup2` and `dup3` (onto a number not open: onto an open
//! one the descriptor lives on, and keeps its record), `fcntl`/`fcntl64`
//! with `F_DUPFD`/`F_DUPFD_CLOEXEC`, `epoll_create`, `epoll_create1`,
//! `eventfd`, `timerfd_create`, `signalfd`, `memfd_create`,
//! `inotify_init`, `inotify_init1`, `pidfd_open`, and the streams libc
//! opens for its callers: `opendir`, `fopen`, `fopen64`, `tmpfile`; ended
//! by `close`, `closedir`, `fclose`, `close_range` and `closefrom`. Each
//! record of a scope keeps the device and inode its descriptor named, and
//! a query forgets one whose number is closed or names another file now (a
//! close no hook saw). Threads: `pthread_create`, ended when the start
//! routine returns or calls `pthread_exit`; a new thread runs in its
//! creator's scope, so what it opens is charged there too. Children:
//! `fork` (and `vfork`, made a `fork`), `posix_spawn`, `posix_spawnp`,
//! ended when `wait`, `waitpid`, `wait4` or `waitid` reaps them.
//!
//! What a static's initializer (std's `Once`, `OnceLock`, `LazyLock`,
//! `lazy_static`) creates, and what the threads it starts create later,
//! is recorded in no scope: it belongs to the process. This is told from
//! the stack, so it holds where stacks are taken (every scoped creation in
//! a test build; see [`Stacks`]).
//!
//! Not seen: children `popen` and `system` create (libc makes them
//! itself), raw system calls (rustix's `linux_raw` backend, io_uring:
//! [`Descriptors`] and [`is_recorded`] tell such descriptors apart), and
//! anything in a child forked without exec.
//!
//! # Descriptions
//!
//! On Linux, [`Census`], [`describe_thread`] and [`describe_child`] read
//! `/proc` for what a person wants to see: a file's path; a socket's
//! protocol, addresses and TCP state; a pipe, eventfd, epoll, timerfd,
//! signalfd, memfd or inotify by name; a thread's name; a child's pid,
//! state and command line.
//!
//! # Joining a scope's check
//!
//! A check joins these detectors through three calls, none of which
//! touches the registry:
//!
//! 1. [`counts_in`] with the ids of the scope and its children: zero
//!    everywhere is the clean check (a few microseconds: one pass over
//!    the tables, a `fcntl(F_GETFD)` per matching descriptor).
//! 2. Otherwise [`open_in`] with the same ids, for owned records (the
//!    scope each was created in, when, by which thread and libc call, and
//!    the raw stack at `LEAKWATCH=stacks`), then [`Census::of`] with their
//!    descriptor numbers, [`describe_thread`] and [`describe_child`] for
//!    what a person reads. Stacks start with this crate's hook frames
//!    (`leakwatch_interpose::`), which these calls register as leakwatch's
//!    own (`leakwatch_core::register_own_frames`), so a report trims them.
//! 3. [`support`] once per report: where it is `Unavailable`, the report
//!    says that descriptors, threads and children outside leakwatch's
//!    wrappers were not seen, rather than passing in silence.
//!
//! `leakwatch::check` and `#[leakwatch::test]` do this for every scope they
//! check. A wrapper that tracks what it creates itself runs the creation
//! in [`unrecorded`] (`leakwatch::thread`) or records the descriptor it
//! holds (`leakwatch::fs`, `leakwatch::net`), so a report shows it once.
//!
//! # When it is on
//!
//! With the `interpose` feature (a default one), on glibc Linux, x86_64 or
//! aarch64, dynamically linked (not `+crt-static`), in builds with
//! `debug_assertions` (`cargo test`) or the `production` feature, with no
//! sanitizer runtime in the process (whose interceptors own the same
//! functions: the hooks then pass every call to them and record nothing),
//! and while
//! `leakwatch_core::level()` is not `Off` and [`set_recording`] has not
//! turned it off. Elsewhere the crate builds, records nothing, and
//! [`support`] says why, so a check can say it cannot see unwrapped
//! descriptors rather than pass in silence.

#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(target_os = "linux")]
mod describe;
mod open;

/// Items compiled where libc's functions are interposed: `leakwatch_hooks`
/// (set by the build script: the `interpose` feature, glibc Linux on x86_64
/// or aarch64, no `+crt-static`) in a build with tracking compiled in.
macro_rules! cfg_hooks {
    ($($item:item)*) => {
        $(
            #[cfg(all(leakwatch_hooks, any(debug_assertions, feature = "production")))]
            $item
        )*
    };
}

/// Items compiled where [`cfg_hooks!`]'s are not.
macro_rules! cfg_not_hooks {
    ($($item:item)*) => {
        $(
            #[cfg(not(all(leakwatch_hooks, any(debug_assertions, feature = "production"))))]
            $item
        )*
    };
}

cfg_hooks! {
    mod active;
}
cfg_not_hooks! {
    #[path = "inactive.rs"]
    mod active;
}

use leakwatch_core::ScopeId;

/// This crate's frames, at the top of every stack its hooks record. Its
/// records leave it only through [`open_in`] and [`open_all`], which
/// register these first, so no stack of theirs is read before.
static OWN_FRAMES: &[&str] = &["leakwatch_interpose::"];

#[cfg(target_os = "linux")]
pub use describe::{
    Census, ChildDescription, ChildState, DescribeError, Descriptors, FdKind, ThreadDescription,
    describe_child, describe_thread,
};
pub use open::{Created, Open, OpenChild, OpenCounts, OpenFd, OpenThread, Support};

/// Whether creations are being recorded here, or why not.
///
/// ```
/// if let leakwatch_interpose::Support::Unavailable(why) = leakwatch_interpose::support() {
///     eprintln!("leakwatch cannot see unwrapped descriptors: {why}");
/// }
/// ```
pub fn support() -> Support {
    active::support()
}

/// What `scopes` have open now: descriptors, threads and children created
/// while one of them was current and not yet closed, finished or reaped.
///
/// Pass a scope together with its children to check it the way
/// `Scope::check` does. Records are plain owned copies, oldest first.
///
/// ```
/// use leakwatch_core::Scope;
///
/// let scope = Scope::new("s");
/// let (r, w) = scope.run(std::io::pipe).unwrap();
/// let open = leakwatch_interpose::open_in(&[scope.id()]);
/// # if leakwatch_interpose::support() == leakwatch_interpose::Support::Active {
/// assert_eq!(open.fds.len(), 2);
/// # }
/// drop((r, w));
/// ```
pub fn open_in(scopes: &[ScopeId]) -> Open {
    leakwatch_core::register_own_frames(OWN_FRAMES);
    active::open_in(scopes)
}

/// What the whole process has open now: every descriptor, thread and
/// child recorded and not yet closed, finished or reaped, in any scope or
/// none ([`ScopeId::NONE`]: created outside every scope, or by a static's
/// initializer). For a live view of the process (an exporter, a
/// watchdog), not for a check, which asks [`open_in`] about its own
/// scopes. Records are plain owned copies, oldest first within each kind;
/// each keeps the scope it was created in. What was created before the
/// level was known (before the first scope, or the first read of
/// `LEAKWATCH`) was not recorded, and is not here.
///
/// ```
/// use std::os::fd::AsRawFd;
///
/// let _level_known = leakwatch_core::Scope::new("any");
/// let file = std::fs::File::open("Cargo.toml").unwrap(); // in no scope
/// let open = leakwatch_interpose::open_all();
/// if leakwatch_interpose::support() == leakwatch_interpose::Support::Active {
///     assert!(open.fds.iter().any(|f| f.fd == file.as_raw_fd()));
/// }
/// drop(file);
/// ```
pub fn open_all() -> Open {
    leakwatch_core::register_own_frames(OWN_FRAMES);
    active::open_all()
}

/// How many descriptors, threads and children `scopes` have open: the
/// clean check's question, without building records.
///
/// ```
/// let scope = leakwatch_core::Scope::new("s");
/// assert_eq!(leakwatch_interpose::counts_in(&[scope.id()]).total(), 0);
/// ```
pub fn counts_in(scopes: &[ScopeId]) -> OpenCounts {
    active::counts_in(scopes)
}

/// Whether a live record, of any scope or none, explains descriptor `fd`:
/// one was made where a hook saw it, and still names the same file. A
/// descriptor open with none was made where no hook sees (a raw system
/// call), or before recording began.
///
/// ```
/// let file = std::fs::File::open("Cargo.toml").unwrap();
/// # use std::os::fd::AsRawFd;
/// if leakwatch_interpose::support() == leakwatch_interpose::Support::Active {
///     let _scope = leakwatch_core::Scope::new("level known");
///     let again = std::fs::File::open("Cargo.toml").unwrap();
///     assert!(leakwatch_interpose::is_recorded(again.as_raw_fd()));
/// }
/// # drop(file);
/// ```
pub fn is_recorded(fd: i32) -> bool {
    active::is_recorded(fd)
}

/// Turns recording on or off for the whole process (on by default).
///
/// Off, every interposed function only calls the real one; what was
/// recorded before stays until it is closed, finished or reaped.
///
/// ```
/// leakwatch_interpose::set_recording(false);
/// leakwatch_interpose::set_recording(true);
/// ```
pub fn set_recording(on: bool) {
    active::set_recording(on)
}

/// Runs `f` without recording the descriptors, threads and children it
/// creates on the calling thread: for wrappers that track what they create
/// themselves (`leakwatch::thread`), so that it is not seen twice. A thread
/// started inside `f` is not given the current scope either: such a
/// wrapper enters it itself. Closing, finishing and reaping are still
/// seen.
///
/// ```
/// let scope = leakwatch_core::Scope::new("s");
/// let file = scope.run(|| {
///     leakwatch_interpose::unrecorded(|| std::fs::File::open("Cargo.toml").unwrap())
/// });
/// assert_eq!(leakwatch_interpose::counts_in(&[scope.id()]).fds, 0);
/// # drop(file);
/// ```
pub fn unrecorded<R>(f: impl FnOnce() -> R) -> R {
    active::unrecorded(f)
}

/// When creations record their raw stack.
///
/// ```
/// leakwatch_interpose::set_stacks(leakwatch_interpose::Stacks::AtLevel);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(u8)]
pub enum Stacks {
    /// The default: at `LEAKWATCH=sites` in test builds (debug
    /// assertions on), so a report names the user's line and a
    /// static's initializer is told apart, and at `LEAKWATCH=stacks` in
    /// every build. Up to 64 innermost frames are kept, enough to reach
    /// the user's frame below an async client library's poll layers; what
    /// a capture costs is in BENCHMARKS.md.
    #[default]
    AtLevel,
    /// Always, for items created inside a scope.
    Always,
    /// Never.
    Never,
}

/// Sets when creations record their raw stack, for the whole process.
///
/// Items created outside every scope never record one.
///
/// ```
/// leakwatch_interpose::set_stacks(leakwatch_interpose::Stacks::Always);
/// # leakwatch_interpose::set_stacks(leakwatch_interpose::Stacks::AtLevel);
/// ```
pub fn set_stacks(stacks: Stacks) {
    active::set_stacks(stacks)
}

/// How many creations could not be recorded: descriptors numbered 32768
/// or higher, and threads or children beyond 4096 or 1024 at once.
///
/// ```
/// assert_eq!(leakwatch_interpose::missed(), 0);
/// ```
pub fn missed() -> u64 {
    active::missed()
}

/// Gives each thread that the process's main thread starts a scope of its
/// own: `start` runs on the main thread as it creates one and returns the
/// scope (`None`: the creator's, as usual); `end` runs on the new thread
/// with that scope once its start routine has returned (or it called
/// `pthread_exit`). This is how a test binary that never used leakwatch
/// is checked test by test: libtest runs each test on a thread of its own
/// started by the main thread (`cargo leakwatch test`). Only the first
/// call takes effect; it returns whether this one did (always `false`
/// where nothing is interposed).
///
/// ```
/// use leakwatch_core::{Scope, ScopeId};
///
/// fn start() -> Option<ScopeId> {
///     // A scope kept until `end` (the real caller keeps it in a table).
///     Some(Box::leak(Box::new(Scope::new("thread"))).id())
/// }
/// fn end(scope: ScopeId) {
///     println!("thread of scope {scope:?} ended");
/// }
/// let _ = leakwatch_interpose::scope_main_spawns(start, end);
/// ```
pub fn scope_main_spawns(start: fn() -> Option<ScopeId>, end: fn(ScopeId)) -> bool {
    active::scope_main_spawns(start, end)
}

/// Address ranges of code that runs static initializers, in addition to
/// the `Once::call` of the std this crate is built with: in a library
/// preloaded into another program, that program's own std's `Once::call`.
/// A creation with a return address inside one of them belongs to the
/// process, as what this crate's std's initializers create does. Only the
/// first call takes effect; it returns whether this one did.
///
/// ```
/// let _ = leakwatch_interpose::set_initializer_code(Vec::new());
/// ```
pub fn set_initializer_code(code: Vec<std::ops::Range<usize>>) -> bool {
    active::set_initializer_code(code)
}
