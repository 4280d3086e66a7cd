//! What the tables hold for a set of scopes, or for all of them: each
//! record read once under its slot's lock, stale ones (a descriptor
//! closed, a child reaped, a thread gone where no hook saw) forgotten.

use super::*;

/// Which records a query covers.
#[derive(Clone, Copy)]
pub(super) enum Among<'a> {
    /// Those created in one of these scopes.
    Scopes(&'a [ScopeId]),
    /// Every live record, of any scope or none.
    Every,
}

impl Among<'_> {
    /// Whether a record of `scope` is covered.
    fn covers(self, scope: ScopeId) -> bool {
        match self {
            Among::Scopes(scopes) => scopes.contains(&scope),
            Among::Every => true,
        }
    }
}

/// Calls `each` with every live record of `table` that `among` covers, and
/// its scope.
pub(super) fn scan_among(
    table: &[Record],
    among: Among<'_>,
    mut each: impl FnMut(&Record, RecordCopy, ScopeId),
) {
    if let Among::Scopes(scopes) = among
        && tally::none_of(scopes)
    {
        return;
    }
    for slot in table {
        if slot.peek_state() == State::Free || !among.covers(slot.peek_scope()) {
            continue;
        }
        let record = slot.read();
        if record.state != State::Free && among.covers(record.scope) {
            each(slot, record, record.scope);
        }
    }
}

fn fd_table() -> &'static [Record] {
    &FDS[..FD_HIGH.load(Ordering::Relaxed).min(FD_SLOTS)]
}

/// `each` for every fd record `among` covers still open, forgetting stale
/// ones.
fn scan_fds(among: Among<'_>, mut each: impl FnMut(RecordCopy, ScopeId)) {
    scan_among(fd_table(), among, |slot, record, scope| {
        if fd_still_open(&record) {
            each(record, scope);
        } else {
            forget_if_unchanged(slot, &record);
        }
    });
}

fn scan_children(among: Among<'_>, mut each: impl FnMut(RecordCopy, ScopeId)) {
    scan_among(&CHILDREN, among, |slot, record, scope| {
        if child_exists(record.subject as i32) {
            each(record, scope);
        } else {
            forget_if_unchanged(slot, &record);
        }
    });
}

/// `each` for every thread record `among` covers whose thread still runs,
/// forgetting those whose thread is gone: one that ended where no hook saw
/// it end (a raw `exit` system call, a `pthread_exit` bound inside libc)
/// must not be charged to its scope forever.
fn scan_threads(among: Among<'_>, mut each: impl FnMut(RecordCopy, ScopeId)) {
    scan_among(&THREADS, among, |slot, record, scope| {
        if record.state != State::Running || thread_exists(record.subject as i32) {
            each(record, scope);
        } else {
            forget_if_unchanged(slot, &record);
        }
    });
}

/// Whether thread `tid` of this process exists.
fn thread_exists(tid: i32) -> bool {
    // SAFETY: signal 0 only checks that the thread exists in this process
    // (`tgkill` with this process's id, so a reused id elsewhere does not
    // count); `getpid` has no preconditions.
    let rc = unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, 0) };
    // SAFETY: `__errno_location` returns this thread's errno slot.
    rc == 0 || unsafe { *libc::__errno_location() } != libc::ESRCH
}

pub(crate) fn is_recorded(fd: i32) -> bool {
    let Some(slot) = usize::try_from(fd).ok().and_then(|i| FDS.get(i)) else {
        return false;
    };
    let record = slot.read();
    record.state != State::Free && record.subject == fd as u64 && fd_still_open(&record)
}

pub(crate) fn counts_in(scopes: &[ScopeId]) -> OpenCounts {
    let among = Among::Scopes(scopes);
    let mut counts = OpenCounts::default();
    scan_fds(among, |_, _| counts.fds += 1);
    scan_threads(among, |_, _| counts.threads += 1);
    scan_children(among, |_, _| counts.children += 1);
    counts
}

pub(crate) fn open_in(scopes: &[ScopeId]) -> Open {
    open_among(Among::Scopes(scopes))
}

pub(crate) fn open_all() -> Open {
    open_among(Among::Every)
}

/// An `Instant` and the same moment on [`now_nanos`]'s clock, read once:
/// a record's [`Created::at`] is reckoned from it, so every query gives a
/// record the same `at` (a live view names a record by it across looks).
fn clock_base() -> (Instant, u64) {
    static BASE: std::sync::OnceLock<(Instant, u64)> = std::sync::OnceLock::new();
    *BASE.get_or_init(|| (Instant::now(), now_nanos()))
}

fn open_among(among: Among<'_>) -> Open {
    let (base, base_ns) = clock_base();
    let created = |record: &RecordCopy, scope: ScopeId| {
        let at = if record.nanos >= base_ns {
            base.checked_add(Duration::from_nanos(record.nanos - base_ns))
        } else {
            base.checked_sub(Duration::from_nanos(base_ns - record.nanos))
        };
        Created {
            scope,
            at: at.unwrap_or(base),
            thread: record.creator,
            call: record.call_name(),
            stack: record.stack().to_vec(),
        }
    };
    let mut open = Open::default();
    scan_fds(among, |record, scope| {
        open.fds.push(OpenFd {
            fd: record.subject as i32,
            created: created(&record, scope),
        });
    });
    scan_threads(among, |record, scope| {
        open.threads.push(OpenThread {
            tid: (record.state == State::Running).then_some(record.subject as i32),
            created: created(&record, scope),
        });
    });
    scan_children(among, |record, scope| {
        open.children.push(OpenChild {
            pid: record.subject as i32,
            created: created(&record, scope),
        });
    });
    open.fds.sort_by_key(|f| f.created.at);
    open.threads.sort_by_key(|t| t.created.at);
    open.children.sort_by_key(|c| c.created.at);
    open
}
