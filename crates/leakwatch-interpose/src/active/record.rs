//! One record of the tables: its fields, written through [`Writer`] only
//! and read whole as a [`RecordCopy`].
//!
//! A [`Record`] is a [`Slot`] of [`W`] words; this module is the only one
//! that knows which word holds which field. Every store goes through a
//! [`Writer`]'s typed setters, so a field that a reader's `unsafe` relies
//! on (a thread's start routine) can hold only what its setter wrote.

use std::ffi::c_void;

use leakwatch_core::ScopeId;

use super::FRAMES;
use super::slot::{Guard, Slot};

/// A thread's start routine, as `pthread_create` takes it.
pub(crate) type StartRoutine = extern "C" fn(*mut c_void) -> *mut c_void;

// Word indices of a record.
const STATE: usize = 0;
const SCOPE: usize = 1;
const NANOS: usize = 2;
const CREATOR: usize = 3;
const SUBJECT: usize = 4;
const CALL: usize = 5;
const LEN: usize = 6;
const START: usize = 7;
const ARG: usize = 8;
const DEV: usize = 9;
const INO: usize = 10;
const STACK: usize = 11;
/// Words in a record.
pub(crate) const W: usize = STACK + FRAMES;

/// What a record's slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub(crate) enum State {
    /// Nothing: the slot may be claimed.
    Free = 0,
    /// A descriptor open, a child not reaped, a thread created but not
    /// running.
    Live = 1,
    /// A thread running its start routine.
    Running = 2,
}

impl State {
    fn from_word(word: u64) -> State {
        match word {
            0 => State::Free,
            1 => State::Live,
            // Only `Writer::set_state` stores this word, from a `State`.
            _ => State::Running,
        }
    }
}

/// Which libc function created an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Call {
    Open,
    Open64,
    Openat,
    Openat64,
    Socket,
    Socketpair,
    Accept,
    Accept4,
    Pipe,
    Pipe2,
    Dup,
    Dup2,
    Dup3,
    Fcntl,
    EpollCreate,
    EpollCreate1,
    Eventfd,
    TimerfdCreate,
    Signalfd,
    MemfdCreate,
    InotifyInit,
    InotifyInit1,
    Opendir,
    Fopen,
    Fopen64,
    Tmpfile,
    Creat,
    Creat64,
    PidfdOpen,
    PthreadCreate,
    Fork,
    PosixSpawn,
    PosixSpawnp,
}

impl Call {
    /// Every call, in the order of their codes.
    const ALL: [Call; 33] = [
        Call::Open,
        Call::Open64,
        Call::Openat,
        Call::Openat64,
        Call::Socket,
        Call::Socketpair,
        Call::Accept,
        Call::Accept4,
        Call::Pipe,
        Call::Pipe2,
        Call::Dup,
        Call::Dup2,
        Call::Dup3,
        Call::Fcntl,
        Call::EpollCreate,
        Call::EpollCreate1,
        Call::Eventfd,
        Call::TimerfdCreate,
        Call::Signalfd,
        Call::MemfdCreate,
        Call::InotifyInit,
        Call::InotifyInit1,
        Call::Opendir,
        Call::Fopen,
        Call::Fopen64,
        Call::Tmpfile,
        Call::Creat,
        Call::Creat64,
        Call::PidfdOpen,
        Call::PthreadCreate,
        Call::Fork,
        Call::PosixSpawn,
        Call::PosixSpawnp,
    ];

    /// The libc function's name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Call::Open => "open",
            Call::Open64 => "open64",
            Call::Openat => "openat",
            Call::Openat64 => "openat64",
            Call::Socket => "socket",
            Call::Socketpair => "socketpair",
            Call::Accept => "accept",
            Call::Accept4 => "accept4",
            Call::Pipe => "pipe",
            Call::Pipe2 => "pipe2",
            Call::Dup => "dup",
            Call::Dup2 => "dup2",
            Call::Dup3 => "dup3",
            Call::Fcntl => "fcntl",
            Call::EpollCreate => "epoll_create",
            Call::EpollCreate1 => "epoll_create1",
            Call::Eventfd => "eventfd",
            Call::TimerfdCreate => "timerfd_create",
            Call::Signalfd => "signalfd",
            Call::MemfdCreate => "memfd_create",
            Call::InotifyInit => "inotify_init",
            Call::InotifyInit1 => "inotify_init1",
            Call::Opendir => "opendir",
            Call::Fopen => "fopen",
            Call::Fopen64 => "fopen64",
            Call::Tmpfile => "tmpfile",
            Call::Creat => "creat",
            Call::Creat64 => "creat64",
            Call::PidfdOpen => "pidfd_open",
            Call::PthreadCreate => "pthread_create",
            Call::Fork => "fork",
            Call::PosixSpawn => "posix_spawn",
            Call::PosixSpawnp => "posix_spawnp",
        }
    }

    /// The call whose code `word` is; `None` for a slot never written
    /// (all zero words read as `Open`, but such a record is `Free`) or a
    /// word out of range.
    fn from_word(word: u64) -> Option<Call> {
        Call::ALL.get(usize::try_from(word).ok()?).copied()
    }
}

/// A descriptor's device and inode, as `fstat` gave them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileId {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
}

/// One record of a table: a descriptor, a thread or a child.
///
/// # Fields
///
/// - state: a [`State`]; the last field a creation writes, so a record
///   read `Live` or `Running` under the seqlock is whole.
/// - scope: the [`ScopeId`] current on the creating thread, or
///   [`ScopeId::NONE`] (outside every scope, in a static's initializer, or
///   a thread or child slot claimed and not yet written).
/// - created at: nanoseconds on the monotonic clock at the creation; with
///   the state it tells a record from a later one in the same slot.
/// - creator: the kernel id of the creating thread.
/// - subject: the descriptor, the child's pid, or the thread's tid once it
///   runs (0 before).
/// - call: the [`Call`] that created the item.
/// - start routine and argument: a thread's, written by its creator and
///   read by the thread as it starts; zero in other records.
/// - file: a descriptor's [`FileId`] when it was recorded (both words 0 if
///   unknown): a number that names another file now was closed where no
///   hook saw it.
/// - stack: up to [`FRAMES`] raw return addresses, innermost first, and
///   their count. Only a captured stack writes these words, so the tables
///   stay zero pages until a slot is used.
pub(crate) struct Record(Slot<W>);

impl Record {
    /// A free record.
    pub(crate) const fn new() -> Record {
        Record(Slot::new())
    }

    /// Takes the record for writing (see [`Slot::lock`]). Tables are
    /// written through `tally::lock`, which keeps the per-scope counts.
    #[inline]
    pub(crate) fn lock(&self) -> Writer<'_> {
        Writer(self.0.lock())
    }

    /// A consistent copy of the record.
    #[inline]
    pub(crate) fn read(&self) -> RecordCopy {
        let w = self.0.read();
        let len = (w[LEN] as usize).min(FRAMES);
        let mut stack = [0; FRAMES];
        for (to, &from) in stack[..len].iter_mut().zip(&w[STACK..STACK + len]) {
            *to = from as usize;
        }
        RecordCopy {
            state: State::from_word(w[STATE]),
            scope: ScopeId::from_u64(w[SCOPE]),
            nanos: w[NANOS],
            creator: w[CREATOR] as u32 as i32,
            subject: w[SUBJECT],
            call: Call::from_word(w[CALL]),
            start: w[START] as usize,
            arg: w[ARG] as usize,
            file: file_id(w[DEV], w[INO]),
            len,
            stack,
        }
    }

    /// The state on its own (see [`Slot::peek`]), for scans.
    #[inline]
    pub(crate) fn peek_state(&self) -> State {
        State::from_word(self.0.peek(STATE))
    }

    /// The scope on its own, for scans.
    #[inline]
    pub(crate) fn peek_scope(&self) -> ScopeId {
        ScopeId::from_u64(self.0.peek(SCOPE))
    }

    /// The subject on its own, for scans.
    #[inline]
    pub(crate) fn peek_subject(&self) -> u64 {
        self.0.peek(SUBJECT)
    }

    /// Whether the file words hold an identity, on their own.
    #[inline]
    pub(crate) fn peek_has_file(&self) -> bool {
        self.0.peek(DEV) != 0 || self.0.peek(INO) != 0
    }
}

fn file_id(dev: u64, ino: u64) -> Option<FileId> {
    (dev != 0 || ino != 0).then_some(FileId { dev, ino })
}

/// Write access to a [`Record`]; what it wrote is published when it drops.
pub(crate) struct Writer<'a>(Guard<'a, W>);

impl Writer<'_> {
    #[inline]
    pub(crate) fn state(&self) -> State {
        State::from_word(self.0.get(STATE))
    }

    #[inline]
    pub(crate) fn scope(&self) -> ScopeId {
        ScopeId::from_u64(self.0.get(SCOPE))
    }

    #[inline]
    pub(crate) fn subject(&self) -> u64 {
        self.0.get(SUBJECT)
    }

    #[inline]
    pub(crate) fn created_at(&self) -> u64 {
        self.0.get(NANOS)
    }

    #[inline]
    pub(crate) fn set_state(&self, state: State) {
        self.0.set(STATE, state as u64);
    }

    #[inline]
    pub(crate) fn set_scope(&self, scope: ScopeId) {
        self.0.set(SCOPE, scope.as_u64());
    }

    #[inline]
    pub(crate) fn set_created_at(&self, nanos: u64) {
        self.0.set(NANOS, nanos);
    }

    #[inline]
    pub(crate) fn set_creator(&self, tid: i32) {
        self.0.set(CREATOR, tid as u32 as u64);
    }

    #[inline]
    pub(crate) fn set_subject(&self, subject: u64) {
        self.0.set(SUBJECT, subject);
    }

    #[inline]
    pub(crate) fn set_call(&self, call: Call) {
        self.0.set(CALL, call as u64);
    }

    /// A thread's start routine and its argument, for the thread to take.
    #[inline]
    pub(crate) fn set_start(&self, start: StartRoutine, arg: *mut c_void) {
        self.0
            .set(START, (start as *const ()).expose_provenance() as u64);
        self.0.set(ARG, arg.expose_provenance() as u64);
    }

    /// The descriptor's file, `None` if unknown.
    #[inline]
    pub(crate) fn set_file(&self, file: Option<FileId>) {
        let FileId { dev, ino } = file.unwrap_or(FileId { dev: 0, ino: 0 });
        self.0.set(DEV, dev);
        self.0.set(INO, ino);
    }

    /// The first [`FRAMES`] of `stack`: one store for the count and one per
    /// frame, none for an empty stack's frames.
    #[inline]
    pub(crate) fn set_stack(&self, stack: &[usize]) {
        let stack = &stack[..stack.len().min(FRAMES)];
        self.0.set(LEN, stack.len() as u64);
        for (i, &ip) in stack.iter().enumerate() {
            self.0.set(STACK + i, ip as u64);
        }
    }
}

/// A [`Record`] as read whole, owned.
#[derive(Clone, Copy)]
pub(crate) struct RecordCopy {
    pub(crate) state: State,
    pub(crate) scope: ScopeId,
    /// Created at, in nanoseconds on the monotonic clock.
    pub(crate) nanos: u64,
    pub(crate) creator: i32,
    pub(crate) subject: u64,
    /// `None` only in a record never written.
    pub(crate) call: Option<Call>,
    pub(crate) file: Option<FileId>,
    start: usize,
    arg: usize,
    len: usize,
    stack: [usize; FRAMES],
}

impl RecordCopy {
    /// The stack, innermost first.
    pub(crate) fn stack(&self) -> &[usize] {
        &self.stack[..self.len]
    }

    /// The libc function that created the item, `"?"` if unknown.
    pub(crate) fn call_name(&self) -> &'static str {
        self.call.map_or("?", Call::name)
    }

    /// A thread's start routine and argument, `None` if none was written.
    pub(crate) fn start(&self) -> Option<(StartRoutine, *mut c_void)> {
        let start = std::ptr::with_exposed_provenance::<()>(self.start);
        if start.is_null() {
            return None;
        }
        // SAFETY: the start word is stored only by `Writer::set_start`, from
        // a `StartRoutine` whose provenance it exposed, and is otherwise 0
        // (a zeroed table): a non-null word is such a function's address.
        let start = unsafe { std::mem::transmute::<*const (), StartRoutine>(start) };
        Some((start, std::ptr::with_exposed_provenance_mut(self.arg)))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[test]
    fn every_call_has_its_code_and_a_name() {
        for (code, call) in Call::ALL.into_iter().enumerate() {
            assert_eq!(call as usize, code);
            assert_eq!(Call::from_word(code as u64), Some(call));
        }
        assert_eq!(Call::ALL.len(), Call::PosixSpawnp as usize + 1);
        assert_eq!(Call::Open64.name(), "open64");
        assert_eq!(Call::PosixSpawnp.name(), "posix_spawnp");
        assert_eq!(Call::from_word(999), None);
        let mut names: Vec<_> = Call::ALL.iter().map(|c| c.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Call::ALL.len(), "names are distinct");
    }

    #[test]
    fn a_record_reads_back_what_was_written() {
        extern "C" fn routine(arg: *mut c_void) -> *mut c_void {
            arg
        }
        let record = Record::new();
        let fresh = record.read();
        assert_eq!(fresh.state, State::Free);
        assert_eq!(fresh.scope, ScopeId::NONE);
        assert!(fresh.start().is_none() && fresh.file.is_none() && fresh.stack().is_empty());
        let mut arg = 5u8;
        {
            let w = record.lock();
            w.set_scope(ScopeId::from_u64(42));
            w.set_created_at(7);
            w.set_creator(-3);
            w.set_subject(9);
            w.set_call(Call::Socket);
            w.set_start(routine, (&raw mut arg).cast());
            w.set_file(Some(FileId { dev: 1, ino: 2 }));
            w.set_stack(&[10, 20, 30]);
            w.set_state(State::Running);
            assert_eq!(w.state(), State::Running);
            assert_eq!(w.scope(), ScopeId::from_u64(42));
            assert_eq!((w.subject(), w.created_at()), (9, 7));
        }
        let r = record.read();
        assert_eq!(r.state, State::Running);
        assert_eq!(r.scope, ScopeId::from_u64(42));
        assert_eq!((r.nanos, r.creator, r.subject), (7, -3, 9));
        assert_eq!(r.call_name(), "socket");
        assert_eq!(r.file, Some(FileId { dev: 1, ino: 2 }));
        assert_eq!(r.stack(), &[10, 20, 30]);
        let (start, got) = r.start().expect("a start routine");
        assert_eq!(start(got), (&raw mut arg).cast());
        assert_eq!(record.peek_state(), State::Running);
        assert_eq!(record.peek_scope(), ScopeId::from_u64(42));
        assert_eq!(record.peek_subject(), 9);
        assert!(record.peek_has_file());
        record.lock().set_file(None);
        assert!(!record.peek_has_file() && record.read().file.is_none());
    }

    /// A stack longer than a record holds keeps its innermost frames.
    #[test]
    fn a_long_stack_is_cut_to_the_frames_a_record_holds() {
        let record = Record::new();
        let long: Vec<usize> = (1..=FRAMES + 5).collect();
        record.lock().set_stack(&long);
        assert_eq!(record.read().stack(), &long[..FRAMES]);
        record.lock().set_stack(&[]);
        assert!(record.read().stack().is_empty());
    }

    /// Readers racing writers never see fields of two writes together.
    #[test]
    fn readers_never_see_torn_records() {
        static RECORD: Record = Record::new();
        static STOP: AtomicBool = AtomicBool::new(false);
        std::thread::scope(|s| {
            for w in 0..2u64 {
                s.spawn(move || {
                    let mut n = w * 1_000_000_000 + 1;
                    while !STOP.load(Ordering::Relaxed) {
                        let g = RECORD.lock();
                        g.set_scope(ScopeId::from_u64(n));
                        g.set_created_at(n);
                        g.set_subject(n);
                        g.set_stack(&[n as usize; 4]);
                        g.set_state(State::Live);
                        n += 1;
                    }
                });
            }
            for _ in 0..200_000 {
                let r = RECORD.read();
                if r.state == State::Free {
                    continue;
                }
                let n = r.nanos;
                assert_eq!(r.scope.as_u64(), n);
                assert_eq!(r.subject, n);
                assert_eq!(r.stack(), &[n as usize; 4]);
            }
            STOP.store(true, Ordering::Relaxed);
        });
    }
}
