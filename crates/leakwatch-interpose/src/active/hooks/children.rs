//! Child processes: forked, spawned and reaped.

use super::*;

/// `fork`: the parent records the child; the child stops recording.
///
/// The forking thread is marked busy through the real call. glibc runs the
/// atfork handlers inside it, in the parent before and after, and in the
/// child before `fork` returns there; a hooked call they make passes
/// straight through, so the child never waits on a table lock that a
/// thread of the parent, gone in the child, held. Every real function is
/// looked up before, so none is first looked up in the child.
///
/// # Safety
/// As for libc's `fork`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fork() -> pid_t {
    real::resolve_all();
    let creation = Busy::enter().map(|_busy| Creation::here(Call::Fork));
    let busy = Busy::tables();
    // SAFETY: no arguments.
    let pid = unsafe { real::fork()() };
    if pid == 0 {
        FORKED_CHILD.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    drop(busy);
    if pid > 0
        && let Some(creation) = creation
    {
        child_started(pid, &creation);
    }
    pid
}

/// `vfork`, made a `fork`. A vfork child shares the parent's memory until
/// it execs or exits, and whatever it closes or duplicates there (as a
/// child does before `exec`) would write the parent's tables; it cannot be
/// told apart from the parent's thread it runs on. A `fork` child has
/// memory of its own, and `vfork`'s contract (call only `_exit` or an
/// `exec`) is one a fork child keeps too.
///
/// # Safety
/// As for libc's `vfork`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vfork() -> pid_t {
    // SAFETY: `fork` has no preconditions beyond `vfork`'s.
    unsafe { fork() }
}

/// `posix_spawn`.
///
/// # Safety
/// As for libc's `posix_spawn`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn posix_spawn(
    pid: *mut pid_t,
    path: *const c_char,
    actions: *const posix_spawn_file_actions_t,
    attr: *const posix_spawnattr_t,
    argv: *const *mut c_char,
    envp: *const *mut c_char,
) -> c_int {
    let creation = Busy::enter().map(|_busy| Creation::here(Call::PosixSpawn));
    // SAFETY: forwards the caller's arguments unchanged.
    let rc = unsafe { real::posix_spawn()(pid, path, actions, attr, argv, envp) };
    // SAFETY: on success `posix_spawn` wrote the child's pid at a non-null `pid`.
    unsafe { spawned(rc, pid, creation) }
}

/// `posix_spawnp`, std's `Command::spawn`.
///
/// # Safety
/// As for libc's `posix_spawnp`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn posix_spawnp(
    pid: *mut pid_t,
    file: *const c_char,
    actions: *const posix_spawn_file_actions_t,
    attr: *const posix_spawnattr_t,
    argv: *const *mut c_char,
    envp: *const *mut c_char,
) -> c_int {
    let creation = Busy::enter().map(|_busy| Creation::here(Call::PosixSpawnp));
    // SAFETY: forwards the caller's arguments unchanged.
    let rc = unsafe { real::posix_spawnp()(pid, file, actions, attr, argv, envp) };
    // SAFETY: on success `posix_spawnp` wrote the child's pid at a non-null `pid`.
    unsafe { spawned(rc, pid, creation) }
}

/// # Safety
/// When `rc == 0` and `pid` is not null, `pid` holds the new child's pid.
unsafe fn spawned(rc: c_int, pid: *mut pid_t, creation: Option<Creation>) -> c_int {
    if rc == 0
        && !pid.is_null()
        && let Some(creation) = creation
    {
        // SAFETY: the caller's guarantee.
        child_started(unsafe { *pid }, &creation);
    }
    rc
}

/// Forgets the child a wait returned, if the status says it was reaped
/// (not merely stopped or continued).
fn waited(r: pid_t, status: c_int) {
    if r > 0 && (libc::WIFEXITED(status) || libc::WIFSIGNALED(status)) {
        child_reaped(r);
    }
}

/// `pid_t wait(int *)`.
///
/// # Safety
/// As for libc's `wait`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wait(status: *mut c_int) -> pid_t {
    let mut own = 0;
    let st = if status.is_null() {
        &raw mut own
    } else {
        status
    };
    // SAFETY: `st` is the caller's status pointer or a local.
    let r = unsafe { real::wait()(st) };
    // SAFETY: when `r > 0` the call wrote the status at `st`.
    waited(r, if r > 0 { unsafe { *st } } else { 0 });
    r
}

/// `pid_t waitpid(pid_t, int *, int)`, std's `Child::wait`.
///
/// # Safety
/// As for libc's `waitpid`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn waitpid(pid: pid_t, status: *mut c_int, options: c_int) -> pid_t {
    let mut own = 0;
    let st = if status.is_null() {
        &raw mut own
    } else {
        status
    };
    // SAFETY: the caller's arguments, with a local for a null status.
    let r = unsafe { real::waitpid()(pid, st, options) };
    // SAFETY: when `r > 0` the call wrote the status at `st`.
    waited(r, if r > 0 { unsafe { *st } } else { 0 });
    r
}

/// `pid_t wait4(pid_t, int *, int, struct rusage *)`.
///
/// # Safety
/// As for libc's `wait4`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wait4(
    pid: pid_t,
    status: *mut c_int,
    options: c_int,
    usage: *mut rusage,
) -> pid_t {
    let mut own = 0;
    let st = if status.is_null() {
        &raw mut own
    } else {
        status
    };
    // SAFETY: the caller's arguments, with a local for a null status.
    let r = unsafe { real::wait4()(pid, st, options, usage) };
    // SAFETY: when `r > 0` the call wrote the status at `st`.
    waited(r, if r > 0 { unsafe { *st } } else { 0 });
    r
}

/// `int waitid(idtype_t, id_t, siginfo_t *, int)`; reaps unless `WNOWAIT`.
///
/// # Safety
/// As for libc's `waitid`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn waitid(
    idtype: idtype_t,
    id: id_t,
    info: *mut siginfo_t,
    options: c_int,
) -> c_int {
    // SAFETY: forwards the caller's arguments unchanged.
    let r = unsafe { real::waitid()(idtype, id, info, options) };
    if r == 0 && !info.is_null() && options & libc::WEXITED != 0 && options & libc::WNOWAIT == 0 {
        // SAFETY: on success `waitid` filled `*info`; for a child's state
        // change (`SIGCHLD`) `si_pid` is the valid field.
        let (code, pid) = unsafe { ((*info).si_code, (*info).si_pid()) };
        if matches!(code, libc::CLD_EXITED | libc::CLD_KILLED | libc::CLD_DUMPED) {
            child_reaped(pid);
        }
    }
    r
}
