//! Each test's scope, from the moment libtest starts its thread to its
//! check after the grace.
//!
//! The main thread of a libtest binary starts one thread per test;
//! `leakwatch_interpose::scope_main_spawns` gives each a scope of its own
//! ([`start`]) and reports its end ([`end`]). A test is checked when its
//! thread has ended and the grace has passed: one checker thread takes
//! ended tests in the order they ended. At exit ([`finish`]) the tests
//! still running are given the grace to end, and every ended one is
//! checked before the process goes.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use leakwatch_core::{Ignore, Report, Scope, ScopeId};

use crate::name;
use crate::out::{Out, Verdict};

/// What a run needs, set once when the preload starts.
pub(crate) struct Run {
    pub(crate) out: Out,
    pub(crate) suppressions: Vec<Ignore>,
    /// The test's name, when the command line gives it (cargo-nextest).
    pub(crate) named: Option<String>,
    /// Whether the executable runs libtest, asked at its first test.
    pub(crate) libtest: fn(&Out) -> bool,
}

static RUN: OnceLock<Run> = OnceLock::new();

#[derive(Default)]
struct Tests {
    running: Vec<Scope>,
    /// Tests whose thread ended, with when and the thread's name.
    ended: VecDeque<(Scope, Instant, String)>,
    /// Tests being checked now.
    checking: usize,
    checker: bool,
}

static TESTS: Mutex<Tests> = Mutex::new(Tests {
    running: Vec::new(),
    ended: VecDeque::new(),
    checking: 0,
    checker: false,
});
static CHANGED: Condvar = Condvar::new();

fn tests() -> MutexGuard<'static, Tests> {
    TESTS.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn begin(run: Run) {
    if RUN.set(run).is_ok() {
        leakwatch_interpose::scope_main_spawns(start, end);
    }
}

/// A new test's scope, made on the main thread as it starts the test's.
fn start() -> Option<ScopeId> {
    let run = RUN.get()?;
    if !(run.libtest)(&run.out) {
        return None;
    }
    static SETTINGS: std::sync::Once = std::sync::Once::new();
    SETTINGS.call_once(|| match leakwatch_core::Settings::suite() {
        Ok(Some(settings)) => run.out.settings(
            settings.file(),
            settings.ignore().iter().map(ToString::to_string).collect(),
        ),
        Ok(None) => {}
        Err(err) => run.out.error(&err.to_string()),
    });
    let scope = Scope::new("test");
    let id = scope.id();
    tests().running.push(scope);
    Some(id)
}

/// A test's thread has ended: its check is due after the grace.
fn end(id: ScopeId) {
    let name = thread_name();
    let mut tests = tests();
    if let Some(at) = tests.running.iter().position(|scope| scope.id() == id) {
        let scope = tests.running.swap_remove(at);
        tests.ended.push_back((scope, Instant::now(), name));
        if !tests.checker {
            tests.checker = true;
            // The checker is the preload's own: nothing it creates is a
            // test's.
            let spawned = leakwatch_interpose::unrecorded(|| {
                std::thread::Builder::new()
                    .name("leakwatch-preload".into())
                    .spawn(|| while check_next(true) {})
            });
            if spawned.is_err() {
                tests.checker = false;
            }
        }
    }
    CHANGED.notify_all();
}

/// The calling thread's name as the system keeps it.
fn thread_name() -> String {
    let mut buf = [0u8; 16];
    // SAFETY: `buf` has room for the 16 bytes Linux's names take with
    // their terminator, and `pthread_self` is the calling thread.
    let rc = unsafe {
        libc::pthread_getname_np(libc::pthread_self(), buf.as_mut_ptr().cast(), buf.len())
    };
    if rc != 0 {
        return String::from("?");
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

/// Checks the test that ended first, once its grace is over; with `wait`,
/// waits for one to end. Returns whether there may be more.
fn check_next(wait: bool) -> bool {
    let mut tests = tests();
    let (scope, ended, thread) = loop {
        if let Some(next) = tests.ended.pop_front() {
            break next;
        }
        if !wait {
            return false;
        }
        tests = CHANGED.wait(tests).unwrap_or_else(PoisonError::into_inner);
    };
    tests.checking += 1;
    drop(tests);
    check(&scope, ended, &thread);
    tests_done();
    true
}

fn tests_done() {
    tests().checking -= 1;
    CHANGED.notify_all();
}

/// Checks a test whose thread ended at `ended`, writing its verdict.
fn check(scope: &Scope, ended: Instant, thread: &str) {
    let Some(run) = RUN.get() else { return };
    let grace = leakwatch_core::grace();
    let look = || scope.snapshot().without_tallied(&run.suppressions);
    let (mut snapshot, mut tally) = look();
    if !snapshot.is_empty() {
        if let Some(left) = (ended + grace).checked_duration_since(Instant::now()) {
            std::thread::sleep(left);
        }
        (snapshot, tally) = look();
    }
    let suppressed: Vec<(String, usize)> = run
        .suppressions
        .iter()
        .zip(&tally)
        .filter(|&(_, &n)| n > 0)
        .map(|(rule, &n)| (rule.to_string(), n))
        .collect();
    let name = match &run.named {
        Some(name) => name.clone(),
        None => name::from_frames(
            thread,
            snapshot
                .items()
                .iter()
                .filter_map(|item| {
                    let frames = item.stack()?.frames();
                    Some(frames.into_iter().map(|f| f.function).collect::<Vec<_>>())
                })
                .collect::<Vec<_>>()
                .iter()
                .map(|functions| functions.iter().map(String::as_str).collect()),
            |short| {
                std::env::current_exe()
                    .ok()
                    .and_then(|exe| crate::binary::functions_starting(&exe, short).ok())
                    .unwrap_or_default()
            },
        ),
    };
    // What the suite's settings file's rules left out of the last look.
    let ignored = scope.ignored();
    let report =
        (!snapshot.is_empty()).then(|| Report::new(&name, &snapshot).with_ignored(ignored.clone()));
    run.out.write(&Verdict {
        test: &name,
        report: report.as_ref(),
        suppressed: &suppressed,
        ignored: ignored.as_ref(),
    });
}

/// At exit: gives running tests the grace to end, then checks every ended
/// one.
pub(crate) fn finish() {
    if RUN.get().is_none() {
        return;
    }
    let deadline = Instant::now() + leakwatch_core::grace() + Duration::from_millis(100);
    let mut tests = tests();
    while !tests.running.is_empty() {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            break;
        };
        tests = CHANGED
            .wait_timeout(tests, left)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
    drop(tests);
    while check_next(false) {}
    // The checker may be in the middle of one.
    let mut left = self::tests();
    while left.checking > 0 {
        left = CHANGED.wait(left).unwrap_or_else(PoisonError::into_inner);
    }
}
