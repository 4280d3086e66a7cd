//! A test's watch: what it needs at its end to say what could not be
//! attributed to it. Where every kind is attributed, the descriptors made
//! where no hook sees (raw system calls) while it ran; where a kind is off
//! or unseen, how many more descriptors or threads the process has than
//! when it began. Either is a note naming the tests that ran meanwhile,
//! never a failure.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use leakwatch_core::{ScopeId, counted};

use crate::detect::{self, Detect, ENV, lock};
use crate::interposed::{self, Unseen, seen, unseen_reason};

/// A test in progress: its scope's setting, and what it needs at its end
/// to say what could not be attributed.
#[derive(Debug)]
pub(crate) struct Watch {
    name: &'static str,
    scope: ScopeId,
    detect: Detect,
    run: u64,
    before: Option<Totals>,
    /// Where every kind is attributed: the descriptors open when the test
    /// began, to find at its end those made where no hook sees.
    unseen: Option<Unseen>,
}

/// Starts watching the test `name` in `scope` with `detect`.
pub(crate) fn begin(name: &'static str, scope: ScopeId, detect: Detect) -> Watch {
    if !leakwatch_core::COMPILED_IN {
        // Tracking is compiled out: nothing is attributed, and nothing
        // needs saying.
        return Watch {
            name,
            scope,
            detect,
            run: 0,
            before: None,
            unseen: None,
        };
    }
    interposed::install();
    if detect != Detect::ALL {
        detect::set(scope, detect);
    }
    let run = running::begin(name);
    let before = (!exact(detect)).then(Totals::now).flatten();
    let unseen = exact(detect).then(Unseen::begin).flatten();
    Watch {
        name,
        scope,
        detect,
        run,
        before,
        unseen,
    }
}

impl Watch {
    /// Ends the watch: what the process gained meanwhile that no test can
    /// be blamed for, if anything, as a note for the test's output.
    pub(crate) fn end(self) -> Option<String> {
        detect::forget(self.scope);
        let others = if self.run == 0 {
            Vec::new()
        } else {
            running::end(self.run)
        };
        let others = if others.is_empty() {
            "no other test ran meanwhile".to_owned()
        } else {
            format!(
                "tests running meanwhile: {}",
                others
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let notes: Vec<String> = [
            self.unseen
                .and_then(|unseen| unseen.end(self.name, &others)),
            self.before
                .and_then(|before| gained(before, self.detect, self.name, &others)),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!notes.is_empty()).then(|| notes.join("\n"))
    }
}

/// What the process gained since `before` in the kinds `detect` does not
/// attribute, as a note, if anything.
fn gained(before: Totals, detect: Detect, name: &str, others: &str) -> Option<String> {
    let after = Totals::now()?;
    let mut gained = Vec::new();
    if !(detect.fds && seen()) && after.fds > before.fds {
        gained.push(counted(after.fds - before.fds, "descriptor"));
    }
    if !(detect.threads && seen()) && after.threads > before.threads {
        gained.push(counted(after.threads - before.threads, "thread"));
    }
    if gained.is_empty() {
        return None;
    }
    let why = if seen() {
        format!("switched off ({ENV} or the test's `fds`/`threads` argument)")
    } else {
        unseen_reason().to_owned()
    };
    Some(format!(
        "leakwatch: cannot attribute: the process has {} more open than when `{name}` began, \
         but attribution is {why}; {others}; no test is blamed for them",
        gained.join(" and "),
    ))
}

/// Whether every kind `detect` asks for is attributed exactly here.
fn exact(detect: Detect) -> bool {
    seen() && detect == Detect::ALL
}

/// Descriptors and threads the process has: the fallback's count where
/// attribution is off.
#[derive(Clone, Copy, Debug)]
struct Totals {
    fds: usize,
    threads: usize,
}

impl Totals {
    #[cfg(target_os = "linux")]
    fn now() -> Option<Totals> {
        let count = |dir: &str| std::fs::read_dir(dir).ok().map(Iterator::count);
        // Reading `/proc/self/fd` holds a descriptor of its own.
        let fds = count("/proc/self/fd")?.saturating_sub(1);
        let threads = count("/proc/self/task")?;
        Some(Totals { fds, threads })
    }

    #[cfg(not(target_os = "linux"))]
    fn now() -> Option<Totals> {
        None
    }
}

/// The tests in progress, and those that ended while another ran.
mod running {
    use super::{AtomicU64, Mutex, Ordering, lock};

    struct Run {
        id: u64,
        name: &'static str,
        started: u64,
        ended: Option<u64>,
    }

    static RUNS: Mutex<Vec<Run>> = Mutex::new(Vec::new());
    static CLOCK: AtomicU64 = AtomicU64::new(1);

    fn tick() -> u64 {
        CLOCK.fetch_add(1, Ordering::Relaxed)
    }

    pub(super) fn begin(name: &'static str) -> u64 {
        let id = tick();
        lock(&RUNS).push(Run {
            id,
            name,
            started: id,
            ended: None,
        });
        id
    }

    /// Ends run `id`: the names of the other runs that overlapped it.
    pub(super) fn end(id: u64) -> Vec<&'static str> {
        let now = tick();
        let mut runs = lock(&RUNS);
        let Some(mine) = runs.iter_mut().find(|r| r.id == id) else {
            return Vec::new();
        };
        mine.ended = Some(now);
        let started = mine.started;
        let mut others: Vec<&'static str> = runs
            .iter()
            .filter(|r| r.id != id && r.ended.is_none_or(|end| end > started))
            .map(|r| r.name)
            .collect();
        others.sort_unstable();
        others.dedup();
        // A run that ended before every run still going began can overlap
        // no later one.
        let oldest = runs
            .iter()
            .filter(|r| r.ended.is_none())
            .map(|r| r.started)
            .min()
            .unwrap_or(u64::MAX);
        runs.retain(|r| r.ended.is_none_or(|end| end > oldest));
        others
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_names_the_runs_that_overlapped_it() {
        let a = running::begin("a");
        let b = running::begin("b");
        assert!(running::end(b).contains(&"a"));
        let c = running::begin("c");
        let others = running::end(a);
        assert!(others.contains(&"b") && others.contains(&"c"), "{others:?}");
        assert!(!running::end(c).contains(&"b"));
    }
}
