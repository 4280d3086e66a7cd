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
    /// The scope of a record whose scope word is `word`, if it is covered.
    fn scope_of(self, word: u64) -> Option<ScopeId> {
        match self {
            Among::Scopes(scopes) => scopes.iter().find(|s| s.as_u64() == word).copied(),
            Among::Every => Some(ScopeId::from_u64(word)),
        }
    }
}

/// Calls `each` with every live record of `table` that `among` covers, and
/// its scope.
pub(super) fn scan_among(
    table: &[Slot<W>],
    among: Among<'_>,
    mut each: impl FnMut(&Slot<W>, [u64; W], ScopeId),
) {
    if let Among::Scopes(scopes) = among
        && tally::none_of(scopes)
    {
        return;
    }
    for slot in table {
        if slot.peek(STATE) == FREE {
            continue;
        }
        if among.scope_of(slot.peek(SCOPE)).is_none() {
            continue;
        }
        let words = slot.read();
        if words[STATE] == FREE {
            continue;
        }
        if let Some(scope) = among.scope_of(words[SCOPE]) {
            each(slot, words, scope);
        }
    }
}

fn fd_table() -> &'static [Slot<W>] {
    &FDS[..FD_HIGH.load(Ordering::Relaxed).min(FD_SLOTS)]
}

/// `each` for every fd record `among` covers still open, forgetting stale
/// ones.
fn scan_fds(among: Among<'_>, mut each: impl FnMut([u64; W], ScopeId)) {
    scan_among(fd_table(), among, |slot, words, scope| {
        if fd_still_open(&words) {
            each(words, scope);
        } else {
            forget_if_unchanged(slot, &words);
        }
    });
}

fn scan_children(among: Among<'_>, mut each: impl FnMut([u64; W], ScopeId)) {
    scan_among(&CHILDREN, among, |slot, words, scope| {
        if child_exists(words[SUBJECT] as i32) {
            each(words, scope);
        } else {
            forget_if_unchanged(slot, &words);
        }
    });
}

/// `each` for every thread record `among` covers whose thread still runs,
/// forgetting those whose thread is gone: one that ended where no hook saw
/// it end (a raw `exit` system call, a `pthread_exit` bound inside libc)
/// must not be charged to its scope forever.
fn scan_threads(among: Among<'_>, mut each: impl FnMut([u64; W], ScopeId)) {
    scan_among(&THREADS, among, |slot, words, scope| {
        if words[STATE] != RUNNING || thread_exists(words[SUBJECT] as i32) {
            each(words, scope);
        } else {
            forget_if_unchanged(slot, &words);
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
    let words = slot.read();
    words[STATE] != FREE && words[SUBJECT] == fd as u64 && fd_still_open(&words)
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
    let created = |words: &[u64; W], scope: ScopeId| {
        let len = (words[LEN] as usize).min(FRAMES);
        let at = if words[NANOS] >= base_ns {
            base.checked_add(Duration::from_nanos(words[NANOS] - base_ns))
        } else {
            base.checked_sub(Duration::from_nanos(base_ns - words[NANOS]))
        };
        Created {
            scope,
            at: at.unwrap_or(base),
            thread: words[CREATOR] as u32 as i32,
            call: call_name(words[CALL]),
            stack: words[STACK..STACK + len]
                .iter()
                .map(|&ip| ip as usize)
                .collect(),
        }
    };
    let mut open = Open::default();
    scan_fds(among, |words, scope| {
        open.fds.push(OpenFd {
            fd: words[SUBJECT] as i32,
            created: created(&words, scope),
        });
    });
    scan_threads(among, |words, scope| {
        open.threads.push(OpenThread {
            tid: (words[STATE] == RUNNING).then_some(words[SUBJECT] as i32),
            created: created(&words, scope),
        });
    });
    scan_children(among, |words, scope| {
        open.children.push(OpenChild {
            pid: words[SUBJECT] as i32,
            created: created(&words, scope),
        });
    });
    open.fds.sort_by_key(|f| f.created.at);
    open.threads.sort_by_key(|t| t.created.at);
    open.children.sort_by_key(|c| c.created.at);
    open
}
