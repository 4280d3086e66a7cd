//! The interposed libc functions.
//!
//! Each is a `#[no_mangle]` definition of a glibc symbol. Linked into an
//! executable, it is the definition the executable's own code binds to
//! (std, tokio, mio and every other Rust crate, which call libc through the
//! `libc` crate's declarations), and, since the executable comes first in
//! symbol lookup, the one shared libraries loaded later bind to as well.
//! Calls that glibc makes to itself (`fopen` → `open`) bind inside libc and
//! are not seen. Each hook calls the real function, looked up with
//! `dlsym(RTLD_NEXT, ..)`, then records what it created.
//!
//! # Variadic functions
//!
//! `open`, `open64`, `openat`, `openat64`, `fcntl` and `fcntl64` are
//! C-variadic, which stable Rust cannot define. Their optional argument is
//! one integer or pointer. On Linux x86_64 (System V AMD64 ABI) and aarch64
//! (AAPCS64 as Linux uses it, where variadic arguments travel in the general
//! registers exactly like named ones) the first variadic argument after N
//! named integer arguments is passed in the register that an (N+1)th fixed
//! integer parameter would use: `rdx`/`rcx` and `x2`/`x3`. So a definition
//! with one more fixed parameter receives it unchanged, or, when the caller
//! passed none, whatever the register held, which is forwarded to the real
//! function that then ignores it as it would have. `al`, which x86_64
//! callers of variadic functions set, is not read by a fixed-arity callee.
//! That is why this module exists only on those two architectures.

use std::ffi::{c_char, c_int, c_uint, c_ulong, c_void};

use libc::{
    DIR, FILE, id_t, idtype_t, mode_t, pid_t, posix_spawn_file_actions_t, posix_spawnattr_t, pthread_attr_t,
    pthread_t, rusage, siginfo_t, sigset_t, sockaddr, socklen_t,
};

use super::record::{Call, StartRoutine, State};
use super::{
    Busy, Creation, FORKED_CHILD, MY_SLOT, OWN_SCOPE, OWN_SCOPES, THREAD_HINT, THREAD_SCOPES,
    THREADS, child_reaped, child_started, claim, end_own_scope, end_scope, fd_closing, fd_is_open,
    fd_opened, fd_range_closing, fd_replaced, free, main_spawn_scope, my_tid,
};

pub(crate) mod real {
    use super::*;

    crate::active::real::real! {
        open: unsafe extern "C" fn(*const c_char, c_int, ...) -> c_int;
        open64: unsafe extern "C" fn(*const c_char, c_int, ...) -> c_int;
        openat: unsafe extern "C" fn(c_int, *const c_char, c_int, ...) -> c_int;
        openat64: unsafe extern "C" fn(c_int, *const c_char, c_int, ...) -> c_int;
        socket: unsafe extern "C" fn(c_int, c_int, c_int) -> c_int;
        socketpair: unsafe extern "C" fn(c_int, c_int, c_int, *mut c_int) -> c_int;
        accept: unsafe extern "C" fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int;
        accept4: unsafe extern "C" fn(c_int, *mut sockaddr, *mut socklen_t, c_int) -> c_int;
        pipe: unsafe extern "C" fn(*mut c_int) -> c_int;
        pipe2: unsafe extern "C" fn(*mut c_int, c_int) -> c_int;
        dup: unsafe extern "C" fn(c_int) -> c_int;
        dup2: unsafe extern "C" fn(c_int, c_int) -> c_int;
        dup3: unsafe extern "C" fn(c_int, c_int, c_int) -> c_int;
        fcntl: unsafe extern "C" fn(c_int, c_int, ...) -> c_int;
        fcntl64: unsafe extern "C" fn(c_int, c_int, ...) -> c_int;
        epoll_create: unsafe extern "C" fn(c_int) -> c_int;
        epoll_create1: unsafe extern "C" fn(c_int) -> c_int;
        eventfd: unsafe extern "C" fn(c_uint, c_int) -> c_int;
        timerfd_create: unsafe extern "C" fn(c_int, c_int) -> c_int;
        signalfd: unsafe extern "C" fn(c_int, *const sigset_t, c_int) -> c_int;
        memfd_create: unsafe extern "C" fn(*const c_char, c_uint) -> c_int;
        inotify_init: unsafe extern "C" fn() -> c_int;
        inotify_init1: unsafe extern "C" fn(c_int) -> c_int;
        close: unsafe extern "C" fn(c_int) -> c_int;
        pthread_create: unsafe extern "C" fn(*mut pthread_t, *const pthread_attr_t, StartRoutine, *mut c_void) -> c_int;
        pthread_exit: unsafe extern "C" fn(*mut c_void) -> !;
        fork: unsafe extern "C" fn() -> pid_t;
        posix_spawn: unsafe extern "C" fn(*mut pid_t, *const c_char, *const posix_spawn_file_actions_t, *const posix_spawnattr_t, *const *mut c_char, *const *mut c_char) -> c_int;
        posix_spawnp: unsafe extern "C" fn(*mut pid_t, *const c_char, *const posix_spawn_file_actions_t, *const posix_spawnattr_t, *const *mut c_char, *const *mut c_char) -> c_int;
        wait: unsafe extern "C" fn(*mut c_int) -> pid_t;
        waitpid: unsafe extern "C" fn(pid_t, *mut c_int, c_int) -> pid_t;
        wait4: unsafe extern "C" fn(pid_t, *mut c_int, c_int, *mut rusage) -> pid_t;
        waitid: unsafe extern "C" fn(idtype_t, id_t, *mut siginfo_t, c_int) -> c_int;
        opendir: unsafe extern "C" fn(*const c_char) -> *mut DIR;
        closedir: unsafe extern "C" fn(*mut DIR) -> c_int;
        fopen: unsafe extern "C" fn(*const c_char, *const c_char) -> *mut FILE;
        fopen64: unsafe extern "C" fn(*const c_char, *const c_char) -> *mut FILE;
        tmpfile: unsafe extern "C" fn() -> *mut FILE;
        tmpfile64: unsafe extern "C" fn() -> *mut FILE;
        fclose: unsafe extern "C" fn(*mut FILE) -> c_int;
        creat: unsafe extern "C" fn(*const c_char, mode_t) -> c_int;
        creat64: unsafe extern "C" fn(*const c_char, mode_t) -> c_int;
        @optional
        close_range: unsafe extern "C" fn(c_uint, c_uint, c_int) -> c_int;
        closefrom: unsafe extern "C" fn(c_int);
        pidfd_open: unsafe extern "C" fn(pid_t, c_uint) -> c_int;
    }
}

/// Records `fd` as created by `call`, leaving `errno` as the real call set it.
#[inline]
fn opened(fd: c_int, call: Call) -> c_int {
    if fd >= 0 {
        // SAFETY: `__errno_location` returns this thread's errno slot.
        let errno = unsafe { *libc::__errno_location() };
        fd_opened(fd, call);
        // SAFETY: as above.
        unsafe { *libc::__errno_location() = errno };
    }
    fd
}

/// Records both descriptors of a successful `pipe`/`socketpair`.
///
/// # Safety
/// When `rc == 0`, `fds` points to the two descriptors the call wrote.
#[inline]
unsafe fn opened_pair(rc: c_int, fds: *mut c_int, call: Call) -> c_int {
    if rc == 0 && !fds.is_null() {
        // SAFETY: the caller guarantees two written `c_int`s at `fds`.
        let (a, b) = unsafe { (*fds, *fds.add(1)) };
        opened(a, call);
        opened(b, call);
    }
    rc
}

/// `int open(const char *path, int flags, ...)`; see the module's section
/// on variadic functions.
///
/// # Safety
/// As for libc's `open`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn open(path: *const c_char, flags: c_int, mode: mode_t) -> c_int {
    // SAFETY: forwards the caller's arguments, for which the caller upholds
    // `open`'s contract; `mode` is the caller's optional argument or an
    // ignored register (module docs).
    opened(unsafe { real::open()(path, flags, mode) }, Call::Open)
}

/// `int open64(const char *path, int flags, ...)`, std's `File::open`.
///
/// # Safety
/// As for libc's `open64`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn open64(path: *const c_char, flags: c_int, mode: mode_t) -> c_int {
    // SAFETY: as in `open`.
    opened(unsafe { real::open64()(path, flags, mode) }, Call::Open64)
}

/// `int openat(int dirfd, const char *path, int flags, ...)`.
///
/// # Safety
/// As for libc's `openat`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn openat(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mode: mode_t,
) -> c_int {
    // SAFETY: as in `open`.
    opened(
        unsafe { real::openat()(dirfd, path, flags, mode) },
        Call::Openat,
    )
}

/// `int openat64(int dirfd, const char *path, int flags, ...)`.
///
/// # Safety
/// As for libc's `openat64`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn openat64(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mode: mode_t,
) -> c_int {
    // SAFETY: as in `open`.
    let fd = unsafe { real::openat64()(dirfd, path, flags, mode) };
    opened(fd, Call::Openat64)
}

/// `int socket(int, int, int)`.
///
/// # Safety
/// As for libc's `socket`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    // SAFETY: forwards the caller's arguments unchanged.
    opened(
        unsafe { real::socket()(domain, ty, protocol) },
        Call::Socket,
    )
}

/// `int socketpair(int, int, int, int sv[2])`.
///
/// # Safety
/// As for libc's `socketpair`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn socketpair(
    domain: c_int,
    ty: c_int,
    protocol: c_int,
    sv: *mut c_int,
) -> c_int {
    // SAFETY: forwards the caller's arguments unchanged.
    let rc = unsafe { real::socketpair()(domain, ty, protocol, sv) };
    // SAFETY: on success `socketpair` wrote two descriptors at `sv`.
    unsafe { opened_pair(rc, sv, Call::Socketpair) }
}

/// `int accept(int, struct sockaddr *, socklen_t *)`.
///
/// # Safety
/// As for libc's `accept`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accept(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    // SAFETY: forwards the caller's arguments unchanged.
    opened(unsafe { real::accept()(fd, addr, len) }, Call::Accept)
}

/// `int accept4(int, struct sockaddr *, socklen_t *, int)`, std's and
/// mio's `accept`.
///
/// # Safety
/// As for libc's `accept4`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accept4(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
    flags: c_int,
) -> c_int {
    // SAFETY: forwards the caller's arguments unchanged.
    opened(
        unsafe { real::accept4()(fd, addr, len, flags) },
        Call::Accept4,
    )
}

/// `int pipe(int fds[2])`.
///
/// # Safety
/// As for libc's `pipe`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipe(fds: *mut c_int) -> c_int {
    // SAFETY: forwards the caller's argument unchanged.
    let rc = unsafe { real::pipe()(fds) };
    // SAFETY: on success `pipe` wrote two descriptors at `fds`.
    unsafe { opened_pair(rc, fds, Call::Pipe) }
}

/// `int pipe2(int fds[2], int flags)`, std's and mio's pipes.
///
/// # Safety
/// As for libc's `pipe2`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipe2(fds: *mut c_int, flags: c_int) -> c_int {
    // SAFETY: forwards the caller's arguments unchanged.
    let rc = unsafe { real::pipe2()(fds, flags) };
    // SAFETY: on success `pipe2` wrote two descriptors at `fds`.
    unsafe { opened_pair(rc, fds, Call::Pipe2) }
}

/// `int dup(int)`.
///
/// # Safety
/// As for libc's `dup`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup(fd: c_int) -> c_int {
    // SAFETY: forwards the caller's argument unchanged.
    opened(unsafe { real::dup()(fd) }, Call::Dup)
}

/// Records what `dup2`/`dup3` made of `new`: a new item only if `new` was
/// not open before (`was_open`). Onto an open descriptor (a redirect of
/// stdout and its restore) the number lives on: whoever opened it still
/// holds it, and its record, if any, takes the new file's identity.
#[inline]
fn duplicated(fd: c_int, was_open: bool, call: Call) -> c_int {
    if fd < 0 {
        fd
    } else if was_open {
        // SAFETY: `__errno_location` returns this thread's errno slot.
        let errno = unsafe { *libc::__errno_location() };
        fd_replaced(fd);
        // SAFETY: as above.
        unsafe { *libc::__errno_location() = errno };
        fd
    } else {
        opened(fd, call)
    }
}

/// `int dup2(int, int)`; see [`duplicated`].
///
/// # Safety
/// As for libc's `dup2`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup2(old: c_int, new: c_int) -> c_int {
    // Onto itself, `dup2` changes nothing.
    let was_open = old == new || fd_is_open(new);
    // SAFETY: forwards the caller's arguments unchanged.
    let fd = unsafe { real::dup2()(old, new) };
    duplicated(fd, was_open, Call::Dup2)
}

/// `int dup3(int, int, int)`; see [`duplicated`].
///
/// # Safety
/// As for libc's `dup3`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    let was_open = fd_is_open(new);
    // SAFETY: forwards the caller's arguments unchanged.
    let fd = unsafe { real::dup3()(old, new, flags) };
    duplicated(fd, was_open, Call::Dup3)
}

/// Records what `F_DUPFD`/`F_DUPFD_CLOEXEC` created.
#[inline]
fn fcntl_done(r: c_int, cmd: c_int) -> c_int {
    if cmd == libc::F_DUPFD || cmd == libc::F_DUPFD_CLOEXEC {
        opened(r, Call::Fcntl)
    } else {
        r
    }
}

/// `int fcntl(int fd, int cmd, ...)`, std's `try_clone`
/// (`F_DUPFD_CLOEXEC`); see the module's section on variadic functions.
///
/// # Safety
/// As for libc's `fcntl`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fcntl(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
    // SAFETY: forwards the caller's arguments; `arg` carries the whole
    // register, so an `int` or a pointer argument reaches the real `fcntl`
    // as the caller passed it (module docs).
    fcntl_done(unsafe { real::fcntl()(fd, cmd, arg) }, cmd)
}

/// `int fcntl64(int fd, int cmd, ...)`, the name newer glibc headers use.
///
/// # Safety
/// As for libc's `fcntl64`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fcntl64(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
    // SAFETY: as in `fcntl`.
    fcntl_done(unsafe { real::fcntl64()(fd, cmd, arg) }, cmd)
}

/// `int epoll_create(int)`.
///
/// # Safety
/// As for libc's `epoll_create`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn epoll_create(size: c_int) -> c_int {
    // SAFETY: forwards the caller's argument unchanged.
    opened(unsafe { real::epoll_create()(size) }, Call::EpollCreate)
}

/// `int epoll_create1(int)`, mio's poller.
///
/// # Safety
/// As for libc's `epoll_create1`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn epoll_create1(flags: c_int) -> c_int {
    // SAFETY: forwards the caller's argument unchanged.
    opened(unsafe { real::epoll_create1()(flags) }, Call::EpollCreate1)
}

/// `int eventfd(unsigned, int)`, mio's waker.
///
/// # Safety
/// As for libc's `eventfd`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eventfd(initval: c_uint, flags: c_int) -> c_int {
    // SAFETY: forwards the caller's arguments unchanged.
    opened(unsafe { real::eventfd()(initval, flags) }, Call::Eventfd)
}

/// `int timerfd_create(int, int)`.
///
/// # Safety
/// As for libc's `timerfd_create`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn timerfd_create(clock: c_int, flags: c_int) -> c_int {
    // SAFETY: forwards the caller's arguments unchanged.
    opened(
        unsafe { real::timerfd_create()(clock, flags) },
        Call::TimerfdCreate,
    )
}

/// `int signalfd(int, const sigset_t *, int)`; creates a descriptor only
/// when `fd` is -1.
///
/// # Safety
/// As for libc's `signalfd`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signalfd(fd: c_int, mask: *const sigset_t, flags: c_int) -> c_int {
    // SAFETY: forwards the caller's arguments unchanged.
    let r = unsafe { real::signalfd()(fd, mask, flags) };
    if fd == -1 {
        opened(r, Call::Signalfd)
    } else {
        r
    }
}

/// `int memfd_create(const char *, unsigned)`.
///
/// # Safety
/// As for libc's `memfd_create`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memfd_create(name: *const c_char, flags: c_uint) -> c_int {
    // SAFETY: forwards the caller's arguments unchanged.
    opened(
        unsafe { real::memfd_create()(name, flags) },
        Call::MemfdCreate,
    )
}

/// `int inotify_init(void)`.
///
/// # Safety
/// As for libc's `inotify_init`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn inotify_init() -> c_int {
    // SAFETY: no arguments.
    opened(unsafe { real::inotify_init()() }, Call::InotifyInit)
}

/// `int inotify_init1(int)`.
///
/// # Safety
/// As for libc's `inotify_init1`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn inotify_init1(flags: c_int) -> c_int {
    // SAFETY: forwards the caller's argument unchanged.
    opened(unsafe { real::inotify_init1()(flags) }, Call::InotifyInit1)
}

/// `int close(int)`: forgets the record first (see the module docs on
/// tables), then closes.
///
/// # Safety
/// As for libc's `close`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    fd_closing(fd);
    // SAFETY: forwards the caller's argument unchanged.
    unsafe { real::close()(fd) }
}

/// `int close_range(unsigned first, unsigned last, int flags)`: forgets
/// the records in the range first, unless it only marks them close-on-exec.
///
/// # Safety
/// As for libc's `close_range`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int {
    let Some(real) = real::close_range() else {
        // SAFETY: `__errno_location` returns this thread's errno slot.
        unsafe { *libc::__errno_location() = libc::ENOSYS };
        return -1;
    };
    if flags & (libc::CLOSE_RANGE_CLOEXEC as c_int) == 0 && first <= last {
        fd_range_closing(first, last);
    }
    // SAFETY: forwards the caller's arguments unchanged.
    unsafe { real(first, last, flags) }
}

/// `void closefrom(int lowfd)`: forgets every record from `lowfd` on first.
///
/// # Safety
/// As for libc's `closefrom`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn closefrom(low: c_int) {
    if low >= 0 {
        fd_range_closing(low as c_uint, c_uint::MAX);
    }
    match real::closefrom() {
        // SAFETY: forwards the caller's argument unchanged.
        Some(real) => unsafe { real(low) },
        // No such function in this libc: close them one by one, as it would.
        None => {
            let high = super::FD_HIGH.load(std::sync::atomic::Ordering::Relaxed);
            for fd in low.max(0)..high as c_int {
                // SAFETY: closing a descriptor number is what the caller asked.
                unsafe { real::close()(fd) };
            }
        }
    }
}

/// `int pidfd_open(pid_t, unsigned)`, tokio's child reaper.
///
/// # Safety
/// As for libc's `pidfd_open`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pidfd_open(pid: pid_t, flags: c_uint) -> c_int {
    let Some(real) = real::pidfd_open() else {
        // SAFETY: `__errno_location` returns this thread's errno slot.
        unsafe { *libc::__errno_location() = libc::ENOSYS };
        return -1;
    };
    // SAFETY: forwards the caller's arguments unchanged.
    opened(unsafe { real(pid, flags) }, Call::PidfdOpen)
}

/// `int creat(const char *, mode_t)`, which libc implements without
/// calling the interposed `open`.
///
/// # Safety
/// As for libc's `creat`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn creat(path: *const c_char, mode: mode_t) -> c_int {
    // SAFETY: forwards the caller's arguments unchanged.
    opened(unsafe { real::creat()(path, mode) }, Call::Creat)
}

/// `int creat64(const char *, mode_t)`.
///
/// # Safety
/// As for libc's `creat64`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn creat64(path: *const c_char, mode: mode_t) -> c_int {
    // SAFETY: forwards the caller's arguments unchanged.
    opened(unsafe { real::creat64()(path, mode) }, Call::Creat64)
}

mod children;
mod streams;
mod threads;
