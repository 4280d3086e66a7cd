//! The interposition: tables of what was created, and the libc functions
//! that fill them.
//!
//! # Tables
//!
//! Three fixed arrays of [`Record`]s, each a seqlocked [`slot::Slot`]:
//! descriptors indexed by their number, threads and children in the first
//! free slot. Nothing is
//! allocated to record or forget an item, so the hooks are safe in any
//! thread at any time the process may call libc, including while another
//! thread holds `malloc`'s lock, in a forked child, or in a thread's
//! teardown.
//!
//! A descriptor's number is unique among open descriptors, so its slot has
//! one writer at a time: the call that created it, then the `close` that
//! ends it. `close` forgets the record *before* the kernel frees the number,
//! so a number the kernel hands out again cannot have its new record wiped
//! by the old close.
//!
//! Descriptors opened or closed inside libc itself (`fopen`, `opendir`,
//! `fclose`) are not seen: libc calls its own functions directly. A
//! descriptor opened where this crate sees it and closed where it does not
//! would leave a stale record, so every query checks that each descriptor
//! it returns is still open and forgets those that are not.
//!
//! # Writers
//!
//! Every table write happens with the thread marked busy ([`Busy`]); a
//! hook or table write that finds its thread busy already can only be
//! running in a signal handler that interrupted one, perhaps while it held
//! the very slot's lock, so it skips the tables rather than wait on that
//! lock forever. What a skipped `close` or wait would have forgotten,
//! queries find closed or reaped, and forget.
//!
//! # Records
//!
//! A slot holds one [`Record`], whose fields and their meaning are listed
//! there; only its [`record`] module knows how they sit in the slot's
//! words, and only a [`record::Writer`] stores them.

mod hooks;
pub(crate) mod real;
mod record;
mod slot;
mod statics;
mod tally;
mod unwind;

use std::cell::Cell;
use std::ops::Range;
use std::sync::{Mutex, OnceLock};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use leakwatch_core::{Level, ScopeId};

use crate::open::{OpenCounts, Created, Open, OpenChild, OpenFd, OpenThread};
use crate::{Stacks, Support};
use record::{Call, FileId, Record, RecordCopy, State, Writer};
use tally::lock;

/// Frames kept per record: enough to reach the user's frame under an
/// async client's stack (hyper-util's pooled client opens its socket 35
/// frames below the test's `.await`: socket2, hyper-util and futures-util
/// poll layers). A record is then [`record::W`] words; the tables are zero
/// pages until a slot is used, and only a captured stack writes these
/// words.
pub(crate) const FRAMES: usize = 64;

/// Descriptors numbered at or above this are counted in [`missed`] only.
pub(crate) const FD_SLOTS: usize = 1 << 15;
const THREAD_SLOTS: usize = 4096;
const CHILD_SLOTS: usize = 1024;

type Table<const N: usize> = [Record; N];

static FDS: Table<FD_SLOTS> = [const { Record::new() }; FD_SLOTS];
/// One past the highest descriptor ever recorded: scans stop here.
static FD_HIGH: AtomicUsize = AtomicUsize::new(0);
static THREADS: Table<THREAD_SLOTS> = [const { Record::new() }; THREAD_SLOTS];
/// The scope each new thread enters, written by its creator before
/// `pthread_create` and read by the thread as it starts.
static THREAD_SCOPES: [Mutex<ScopeId>; THREAD_SLOTS] =
    [const { Mutex::new(ScopeId::NONE) }; THREAD_SLOTS];
static CHILDREN: Table<CHILD_SLOTS> = [const { Record::new() }; CHILD_SLOTS];
/// Creations that found no slot.
static MISSED: AtomicU64 = AtomicU64::new(0);

/// Off with [`crate::set_recording`].
static RECORDING: AtomicBool = AtomicBool::new(true);
/// Set in a child forked from this process, before it runs anything else:
/// its other threads are gone, possibly mid-write, so it records nothing.
static FORKED_CHILD: AtomicBool = AtomicBool::new(false);
/// A [`Stacks`] as `u8`.
static STACKS: AtomicU8 = AtomicU8::new(Stacks::AtLevel as u8);

// Destructor-free cells, usable while a thread is torn down.
thread_local! {
    /// Set while this thread is inside a hook, so that calls the hook
    /// itself makes are passed straight through.
    static BUSY: Cell<bool> = const { Cell::new(false) };
    /// This thread's kernel id, 0 until first needed.
    static TID: Cell<i32> = const { Cell::new(0) };
    /// Set while this thread runs [`crate::unrecorded`]'s closure.
    static UNRECORDED: Cell<bool> = const { Cell::new(false) };
    /// This thread's slot in `THREADS`, if it was started through a hook.
    static MY_SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
    /// The scope [`MAIN_SPAWNS`] made for this thread, if it did.
    static OWN_SCOPE: Cell<Option<ScopeId>> = const { Cell::new(None) };
}

/// Scopes of their own for the threads the main thread starts: made by
/// `start` as the main thread creates one, ended by `end` in that thread
/// when its start routine returns or it calls `pthread_exit`.
struct MainSpawns {
    start: fn() -> Option<ScopeId>,
    end: fn(ScopeId),
}

static MAIN_SPAWNS: OnceLock<MainSpawns> = OnceLock::new();

pub(crate) fn scope_main_spawns(start: fn() -> Option<ScopeId>, end: fn(ScopeId)) -> bool {
    MAIN_SPAWNS.set(MainSpawns { start, end }).is_ok()
}

/// A scope of its own for a thread the calling thread is about to start,
/// if the calling thread is the main thread and one was asked for.
fn main_spawn_scope() -> Option<ScopeId> {
    let spawns = MAIN_SPAWNS.get()?;
    // SAFETY: `getpid` has no preconditions.
    if my_tid() != unsafe { libc::getpid() } || !recording() {
        return None;
    }
    (spawns.start)().filter(|&scope| scope != ScopeId::NONE)
}

/// Ends the calling thread's own scope, if it has one.
fn end_own_scope() {
    if let Ok(Some(scope)) = OWN_SCOPE.try_with(Cell::take) {
        end_scope(scope);
    }
}

fn end_scope(scope: ScopeId) {
    if let Some(spawns) = MAIN_SPAWNS.get() {
        (spawns.end)(scope);
    }
}

/// Passes a thread its own scope from its creator, slot by slot.
static OWN_SCOPES: [Mutex<Option<ScopeId>>; THREAD_SLOTS] =
    [const { Mutex::new(None) }; THREAD_SLOTS];

pub(crate) fn set_initializer_code(code: Vec<Range<usize>>) -> bool {
    statics::set_other_calls(code)
}

pub(crate) fn support() -> Support {
    if FORKED_CHILD.load(Ordering::Relaxed) {
        Support::Unavailable("a forked child records nothing until it execs")
    } else if real::sanitizer() {
        Support::Unavailable(
            "a sanitizer runtime is in the process: its interceptors own libc's functions, so \
             leakwatch passes every call to them and records nothing",
        )
    } else {
        Support::Active
    }
}

pub(crate) fn set_recording(on: bool) {
    RECORDING.store(on, Ordering::Relaxed);
}

pub(crate) fn recording() -> bool {
    // The level is never read from the environment here: std calls
    // `posix_spawnp` and `fork` holding its environment lock. Until it is
    // known (creating a scope decides it) nothing is in a scope, so
    // nothing recorded could be reported.
    RECORDING.load(Ordering::Relaxed)
        && !FORKED_CHILD.load(Ordering::Relaxed)
        && !real::sanitizer()
        && leakwatch_core::level_if_known().is_some_and(|level| level != Level::Off)
}

pub(crate) fn unrecorded<R>(f: impl FnOnce() -> R) -> R {
    /// Restores the previous setting, also when `f` unwinds.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = UNRECORDED.try_with(|u| u.set(self.0));
        }
    }
    let _restore = Restore(UNRECORDED.with(|u| u.replace(true)));
    f()
}

pub(crate) fn set_stacks(stacks: Stacks) {
    STACKS.store(stacks as u8, Ordering::Relaxed);
}

pub(crate) fn missed() -> u64 {
    MISSED.load(Ordering::Relaxed)
}

/// Marks the calling thread as inside a hook until dropped.
///
/// Only ever built where the mark was off (`then`, never `then_some`, so
/// that a refused one is not built and dropped, clearing its holder's).
struct Busy(());

impl Busy {
    /// `None` when recording is off or this thread is inside a hook
    /// already (or past its thread-locals' end).
    #[inline]
    fn enter() -> Option<Busy> {
        if !recording() || UNRECORDED.try_with(Cell::get).unwrap_or(true) {
            return None;
        }
        let was = BUSY.try_with(|b| b.replace(true)).ok()?;
        (!was).then(|| Busy(()))
    }
}

impl Busy {
    /// For writing the tables outside a recording hook (`close`, a wait,
    /// a thread's start and end, a query forgetting stale records):
    /// `None` if this thread is inside a hook or a table write already,
    /// which it can only be from a signal handler that interrupted it,
    /// possibly while it held the very slot's lock. The write is then
    /// skipped; what it would have forgotten, queries find closed or
    /// reaped and forget.
    #[inline]
    fn tables() -> Option<Busy> {
        let was = BUSY.try_with(|b| b.replace(true)).ok()?;
        (!was).then(|| Busy(()))
    }
}

impl Drop for Busy {
    #[inline]
    fn drop(&mut self) {
        let _ = BUSY.try_with(|b| b.set(false));
    }
}

/// Nanoseconds on the monotonic clock, the one `Instant` reads.
#[inline]
fn now_nanos() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a writable `timespec`; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

#[inline]
fn my_tid() -> i32 {
    TID.try_with(|t| {
        if t.get() == 0 {
            // SAFETY: `gettid` has no preconditions.
            t.set(unsafe { libc::gettid() });
        }
        t.get()
    })
    // SAFETY: `gettid` has no preconditions.
    .unwrap_or_else(|_| unsafe { libc::gettid() })
}

/// What a record says about its creation, gathered on the creating
/// thread (and reported as a [`crate::Created`]).
struct Creation {
    scope: ScopeId,
    nanos: u64,
    creator: i32,
    call: Call,
    len: usize,
    /// `None` when no stack is taken: the common case, which then never
    /// writes the array (zeroing `FRAMES` words on every creation would).
    stack: Option<[usize; FRAMES]>,
}

impl Creation {
    /// Gathered inside a hook (the caller holds a [`Busy`]).
    #[inline(always)]
    fn here(call: Call) -> Creation {
        let mut scope = ScopeId::current();
        let (len, stack) = if want_stack(scope) {
            let mut stack = [0; FRAMES];
            let len = capture(&mut stack);
            if statics::in_initializer(&stack[..len]) {
                // A static's, so the process's (see `statics`).
                scope = ScopeId::NONE;
            }
            (len, Some(stack))
        } else {
            (0, None)
        };
        Creation {
            scope,
            nanos: now_nanos(),
            creator: my_tid(),
            call,
            len,
            stack,
        }
    }

    /// Writes the record of `subject`, `state` last.
    fn write(&self, g: &Writer<'_>, subject: u64, state: State) {
        g.set_scope(self.scope);
        g.set_created_at(self.nanos);
        g.set_creator(self.creator);
        g.set_subject(subject);
        g.set_call(self.call);
        g.set_stack(self.stack.as_ref().map_or(&[], |stack| &stack[..self.len]));
        g.set_state(state);
    }
}

fn want_stack(scope: ScopeId) -> bool {
    if scope == ScopeId::NONE {
        // Items outside every scope are never reported with a stack.
        return false;
    }
    match STACKS.load(Ordering::Relaxed) {
        x if x == Stacks::Always as u8 => true,
        x if x == Stacks::Never as u8 => false,
        // In test (debug) builds every item in a scope takes its stack, so
        // that a report names the user's line and a static's initializer is
        // told apart; release builds take it at `LEAKWATCH=stacks` only.
        _ => match leakwatch_core::level_if_known() {
            Some(Level::Sites) => {
                cfg!(debug_assertions) && !cfg!(leakwatch_stacks_at_level_only)
            }
            level => level == Some(Level::Stacks),
        },
    }
}

/// Raw return addresses of the calling thread, innermost first.
#[inline(never)]
fn capture(stack: &mut [usize; FRAMES]) -> usize {
    // framehop over `.eh_frame` with cached rules; libgcc's walk when that
    // cannot be done now (see `unwind`).
    if let Some(n) = unwind::capture(stack) {
        return n;
    }
    capture_with_libgcc(stack)
}

/// [`capture`] by libgcc's walk only: the same frames every time, for
/// comparing stacks taken in one place (see `statics`).
#[inline(never)]
fn capture_with_libgcc(stack: &mut [usize; FRAMES]) -> usize {
    let mut n = 0;
    // SAFETY: `trace_unsynchronized` is unsafe only because some platforms'
    // unwinders (Windows' dbghelp) are not thread-safe; this module is built
    // for glibc Linux only, where the unwinder (libgcc's, over
    // `dl_iterate_phdr`) is, and it neither allocates through Rust's
    // allocator nor calls an interposed function.
    unsafe {
        backtrace::trace_unsynchronized(|frame| {
            stack[n] = frame.ip() as usize;
            n += 1;
            n < FRAMES
        });
    }
    n
}

// ---- descriptors ----

/// Records `fd`, just returned by `call`, if recording.
#[inline]
fn fd_opened(fd: libc::c_int, call: Call) {
    if fd < 0 {
        return;
    }
    let Some(_busy) = Busy::enter() else { return };
    let creation = Creation::here(call);
    fd_insert(fd, &creation);
}

fn fd_insert(fd: libc::c_int, creation: &Creation) {
    let i = fd as usize;
    let Some(slot) = FDS.get(i) else {
        MISSED.fetch_add(1, Ordering::Relaxed);
        return;
    };
    // Only an item in a scope can be reported, so only it pays the `fstat`.
    let file = if creation.scope == ScopeId::NONE {
        None
    } else {
        fd_identity(fd)
    };
    let g = lock(slot);
    g.set_file(file);
    creation.write(&g, i as u64, State::Live);
    drop(g);
    FD_HIGH.fetch_max(i + 1, Ordering::Relaxed);
}

/// The device and inode `fd` names, `None` if it is not open.
fn fd_identity(fd: libc::c_int) -> Option<FileId> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `fstat` writes a whole `stat` at a valid pointer or fails.
    if unsafe { libc::fstat(fd, st.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: `fstat` returned 0, so it initialised `st`.
    let st = unsafe { st.assume_init() };
    Some(FileId {
        dev: st.st_dev,
        ino: st.st_ino,
    })
}

/// `fd`, just made to name another open file (`dup2` onto it): its record,
/// if any, keeps its creation and takes the new file's identity.
fn fd_replaced(fd: libc::c_int) {
    let Some(slot) = FDS.get(fd as usize) else {
        return;
    };
    if slot.peek_state() == State::Free || !slot.peek_has_file() {
        return;
    }
    let Some(_busy) = Busy::tables() else { return };
    let file = fd_identity(fd);
    let g = lock(slot);
    if g.state() != State::Free && g.subject() == fd as u64 {
        g.set_file(file);
    }
}

/// Forgets every record from `first` to `last` (inclusive), about to be
/// closed together (`close_range`, `closefrom`).
fn fd_range_closing(first: libc::c_uint, last: libc::c_uint) {
    if FORKED_CHILD.load(Ordering::Relaxed) {
        return;
    }
    let high = FD_HIGH.load(Ordering::Relaxed).min(FD_SLOTS);
    let last = (last as usize).saturating_add(1).min(high);
    for fd in (first as usize)..last {
        fd_closing(fd as libc::c_int);
    }
}

/// Forgets `fd`, about to be closed.
#[inline]
fn fd_closing(fd: libc::c_int) {
    if fd < 0 || FORKED_CHILD.load(Ordering::Relaxed) {
        return;
    }
    if let Some(slot) = FDS.get(fd as usize)
        && slot.peek_state() != State::Free
        && let Some(_busy) = Busy::tables()
    {
        lock(slot).set_state(State::Free);
    }
}

/// Whether `record` still describes its descriptor: the number is open
/// and names the same file (when the record knows which).
fn fd_still_open(record: &RecordCopy) -> bool {
    let fd = record.subject as i32;
    match record.file {
        None => fd_is_open(fd),
        file => fd_identity(fd) == file,
    }
}

/// Whether `fd` is open in this process now.
fn fd_is_open(fd: i32) -> bool {
    // SAFETY: F_GETFD takes no argument and only reads the descriptor
    // table; on a closed descriptor it fails with EBADF.
    let r = unsafe { (hooks::real::fcntl())(fd, libc::F_GETFD, 0) };
    r != -1 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EBADF)
}

/// Forgets `record` if `slot` still holds it.
fn forget_if_unchanged(slot: &Record, record: &RecordCopy) {
    let Some(_busy) = Busy::tables() else { return };
    let g = lock(slot);
    if g.state() == record.state && g.created_at() == record.nanos {
        g.set_state(State::Free);
    }
}

// ---- threads ----

/// Claims a free thread slot, `None` when all are taken.
fn claim(table: &'static [Record], hint: &AtomicUsize) -> Option<usize> {
    let start = hint.load(Ordering::Relaxed);
    for k in 0..table.len() {
        let i = (start + k) % table.len();
        if table[i].peek_state() != State::Free {
            continue;
        }
        let g = lock(&table[i]);
        if g.state() == State::Free {
            // Claimed in no scope until its creator writes the record: a
            // query for the previous record's scope must not find it.
            g.set_scope(ScopeId::NONE);
            g.set_state(State::Live);
            drop(g);
            hint.store(i + 1, Ordering::Relaxed);
            return Some(i);
        }
    }
    MISSED.fetch_add(1, Ordering::Relaxed);
    None
}

static THREAD_HINT: AtomicUsize = AtomicUsize::new(0);
static CHILD_HINT: AtomicUsize = AtomicUsize::new(0);

fn free(table: &[Record], i: usize) {
    lock(&table[i]).set_state(State::Free);
}

// ---- children ----

fn child_started(pid: libc::pid_t, creation: &Creation) {
    if pid <= 0 {
        return;
    }
    let Some(_busy) = Busy::tables() else { return };
    if let Some(i) = claim(&CHILDREN, &CHILD_HINT) {
        creation.write(&lock(&CHILDREN[i]), pid as u64, State::Live);
    }
}

/// Forgets `pid`, just reaped.
fn child_reaped(pid: libc::pid_t) {
    if pid <= 0 || FORKED_CHILD.load(Ordering::Relaxed) {
        return;
    }
    let Some(_busy) = Busy::tables() else { return };
    for slot in &CHILDREN {
        if slot.peek_state() == State::Live && slot.peek_subject() == pid as u64 {
            let g = lock(slot);
            if g.state() == State::Live && g.subject() == pid as u64 {
                g.set_state(State::Free);
                return;
            }
        }
    }
}

/// Whether process `pid` exists (running or a zombie).
fn child_exists(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 || *libc::__errno_location() != libc::ESRCH }
}

mod queries;

pub(crate) use queries::{counts_in, is_recorded, open_all, open_in};

#[cfg(test)]
mod tests;
