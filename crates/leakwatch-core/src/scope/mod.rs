//! Scopes: what a check sees.
//!
//! A [`Scope`] is the Rust form of the Go seed's `Tracker`: items opened
//! while it is current belong to it. Scopes nest: a scope created while
//! another is current is its child, and checking the parent includes the
//! child's items. Each thread has its own current scope, and the facade's
//! thread and task wrappers carry it into the work they start, so a check sees
//! everything its scope started, transitively, and nothing that tests running
//! beside it opened.
//!
//! ```
//! use leakwatch_core::{Scope, Tag};
//!
//! let scope = Scope::new("request");
//! let kept = scope.run(|| Tag::new("db-conn"));
//! let report = scope.check_now().unwrap_err();
//! assert_eq!(report.total(), 1);
//! drop(kept);
//! assert!(scope.check_now().is_ok());
//! ```

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::backoff::Backoff;
use crate::current;
use crate::ignore::Ignore;
use crate::report::{Ignored, Report};
use crate::scope_id::ScopeId;
use crate::settings;
use crate::snapshot::{Finding, Snapshot};

impl ScopeId {
    /// The calling thread's current scope, [`ScopeId::NONE`] outside any.
    ///
    /// ```
    /// assert_eq!(leakwatch_core::ScopeId::current(), leakwatch_core::ScopeId::NONE);
    /// ```
    #[inline]
    pub fn current() -> ScopeId {
        current::get()
    }

    /// Makes this scope current on the calling thread until the guard drops.
    ///
    /// This is how work started elsewhere joins the scope that started it:
    /// copy the id, then enter it where the work runs. Where entering and
    /// leaving are two callbacks (a thread's start and stop hooks, say),
    /// keep the guard in a thread-local between them. (Inside a tokio task
    /// on a hooked runtime the task's scope is current without a guard: see
    /// [`IdTable::follow`](crate::IdTable::follow).)
    ///
    /// ```
    /// let scope = leakwatch_core::Scope::new("worker");
    /// let id = scope.id();
    /// let _guard = id.enter();
    /// ```
    #[inline]
    pub fn enter(self) -> ScopeGuard {
        ScopeGuard {
            outer: current::enter(self),
            _not_send: PhantomData,
        }
    }
}

/// Restores the previous current scope when dropped.
///
/// Returned by [`Scope::enter`] and [`ScopeId::enter`]; it stays on the thread
/// that entered.
///
/// ```
/// use leakwatch_core::{Scope, ScopeId};
///
/// let scope = Scope::new("s");
/// let guard = scope.enter();
/// assert_eq!(ScopeId::current(), scope.id());
/// drop(guard);
/// assert_eq!(ScopeId::current(), ScopeId::NONE);
/// ```
#[must_use = "the scope is current only until the guard is dropped"]
#[derive(Debug)]
pub struct ScopeGuard {
    /// What was current, and where it was entered.
    outer: current::Outer,
    _not_send: PhantomData<*const ()>,
}

impl Drop for ScopeGuard {
    #[inline]
    fn drop(&mut self) {
        current::restore(self.outer);
    }
}

/// A set of tracked items to check, such as everything one test opened.
///
/// Created as a child of the calling thread's current scope. Dropping a scope
/// does not forget its items: they stay visible to its parent's checks.
///
/// ```
/// use leakwatch_core::{Scope, Tag};
///
/// let test = Scope::new("my_test");
/// test.run(|| {
///     let _conn = Tag::new("db-conn");
/// }); // closed here
/// test.check_now().expect("no leaks");
/// ```
pub struct Scope {
    id: ScopeId,
    name: Arc<str>,
    ignoring: Vec<Ignore>,
    /// Whether the suite's settings file's rules apply: unless rules of
    /// the scope's own replaced them ([`Scope::ignoring`]).
    suite: bool,
    /// What the file's rules left out of the last check.
    ignored: Mutex<Option<Ignored>>,
    /// Whether `ignored` holds anything, so that a clean check of a scope
    /// whose checks never left anything out takes no lock.
    any_ignored: AtomicBool,
}

impl Scope {
    /// A new scope, the child of the calling thread's current one.
    ///
    /// ```
    /// let outer = leakwatch_core::Scope::new("outer");
    /// let inner = outer.run(|| leakwatch_core::Scope::new("inner"));
    /// let tag = inner.run(|| leakwatch_core::Tag::new("file"));
    /// assert!(outer.check_now().is_err(), "the outer scope sees the inner one's items");
    /// drop(tag);
    /// ```
    pub fn new(name: impl Into<String>) -> Scope {
        let name: Arc<str> = name.into().into();
        // Decided before anything can be created in the scope, so that
        // hooks running where the environment cannot be read (see
        // `level_if_known`) know it.
        let _ = crate::config::level();
        let id = imp::create(ScopeId::current());
        Scope {
            id,
            name,
            ignoring: Vec::new(),
            suite: true,
            ignored: Mutex::new(None),
            any_ignored: AtomicBool::new(false),
        }
    }

    /// This scope, leaving out of its checks and snapshots the items that
    /// `rules` match: known background work (see [`Ignore`]). These rules
    /// replace the suite's settings file's ([`Settings`](crate::Settings));
    /// [`Scope::also_ignoring`] adds to them.
    ///
    /// ```
    /// use leakwatch_core::{Ignore, Scope, Tag};
    ///
    /// let scope = Scope::new("s").ignoring([Ignore::Kind("metrics".into())]);
    /// let flusher = scope.run(|| Tag::new("metrics"));
    /// assert!(scope.check_now().is_ok());
    /// # drop(flusher);
    /// ```
    pub fn ignoring(mut self, rules: impl IntoIterator<Item = Ignore>) -> Scope {
        self.ignoring.extend(rules);
        self.suite = false;
        self
    }

    /// This scope, leaving out the items `rules` match as well as those the
    /// suite's settings file's rules match: a test's own rules beside the
    /// suite's, as `#[leakwatch::test(ignore = "..")]` gives them.
    ///
    /// ```
    /// use leakwatch_core::{Ignore, Scope, Tag};
    ///
    /// let scope = Scope::new("s").also_ignoring([Ignore::Kind("metrics".into())]);
    /// let flusher = scope.run(|| Tag::new("metrics"));
    /// assert!(scope.check_now().is_ok());
    /// # drop(flusher);
    /// ```
    pub fn also_ignoring(mut self, rules: impl IntoIterator<Item = Ignore>) -> Scope {
        self.ignoring.extend(rules);
        self
    }

    /// What the suite's settings file's rules left out of this scope's
    /// last check or snapshot, passing or failing: for a caller to print
    /// beside a passing check (a failing one's report ends with it).
    ///
    /// ```
    /// let scope = leakwatch_core::Scope::new("s");
    /// scope.check_now().unwrap();
    /// if let Some(ignored) = scope.ignored() {
    ///     eprintln!("leakwatch: {ignored}");
    /// }
    /// ```
    pub fn ignored(&self) -> Option<Ignored> {
        if !self.any_ignored.load(Ordering::Acquire) {
            return None;
        }
        self.ignored
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The suite's file's rules, when they apply to this scope.
    fn suite_rules(&self) -> Option<(&'static str, &'static [Ignore])> {
        if self.suite {
            settings::suite_rules()
        } else {
            None
        }
    }

    /// What a check sees now, and what the suite's file's rules left out.
    fn look(&self) -> (Snapshot, Option<Ignored>) {
        let snapshot =
            crate::external::join(Snapshot::of_scope(self.id), self.id).without(&self.ignoring);
        match self.suite_rules() {
            Some((file, rules)) if !snapshot.is_empty() => {
                let (snapshot, tally) = snapshot.without_tallied(rules);
                let count = tally.iter().sum();
                let used = rules
                    .iter()
                    .zip(&tally)
                    .filter(|&(_, &n)| n > 0)
                    .map(|(rule, _)| rule.to_string())
                    .collect();
                (
                    snapshot,
                    (count > 0).then(|| Ignored::new(file, count, used)),
                )
            }
            _ => (snapshot, None),
        }
    }

    /// The result of a check whose last look was `snapshot`, the file's
    /// rules having left out `ignored`.
    fn conclude(&self, snapshot: &Snapshot, ignored: Option<Ignored>) -> Result<(), Report> {
        self.keep_ignored(&ignored);
        let report = Report::new(&self.name, snapshot)
            .with_settings_error(settings::suite_error())
            .with_ignored(ignored);
        if report.is_clean() {
            Ok(())
        } else {
            Snapshot::mark_reported(self.id);
            Err(report)
        }
    }

    /// Keeps what the file's rules left out of the last look, for
    /// [`Scope::ignored`]; a scope whose looks never left anything out
    /// takes no lock.
    fn keep_ignored(&self, ignored: &Option<Ignored>) {
        if ignored.is_some() || self.any_ignored.load(Ordering::Acquire) {
            *self.ignored.lock().unwrap_or_else(PoisonError::into_inner) = ignored.clone();
            self.any_ignored.store(ignored.is_some(), Ordering::Release);
        }
    }

    /// This scope's id, to carry it into other threads or tasks.
    ///
    /// ```
    /// let scope = leakwatch_core::Scope::new("s");
    /// assert_ne!(scope.id(), leakwatch_core::ScopeId::NONE);
    /// ```
    pub fn id(&self) -> ScopeId {
        self.id
    }

    /// The name given at creation, shown in reports.
    ///
    /// ```
    /// assert_eq!(leakwatch_core::Scope::new("my_test").name(), "my_test");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Makes this scope current on the calling thread until the guard drops.
    ///
    /// ```
    /// let scope = leakwatch_core::Scope::new("s");
    /// {
    ///     let _guard = scope.enter();
    ///     assert_eq!(leakwatch_core::ScopeId::current(), scope.id());
    /// }
    /// assert_ne!(leakwatch_core::ScopeId::current(), scope.id());
    /// ```
    pub fn enter(&self) -> ScopeGuard {
        self.id.enter()
    }

    /// Runs `f` with this scope current.
    ///
    /// ```
    /// let scope = leakwatch_core::Scope::new("s");
    /// let answer = scope.run(|| 42);
    /// assert_eq!(answer, 42);
    /// ```
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let _guard = self.enter();
        f()
    }

    /// Everything open in this scope and its children now, plus must-close
    /// items they dropped without closing.
    ///
    /// ```
    /// let scope = leakwatch_core::Scope::new("s");
    /// let tag = scope.run(|| leakwatch_core::Tag::new("file"));
    /// assert_eq!(scope.snapshot().len(), usize::from(leakwatch_core::COMPILED_IN));
    /// drop(tag);
    /// ```
    pub fn snapshot(&self) -> Snapshot {
        let (snapshot, ignored) = self.look();
        self.keep_ignored(&ignored);
        snapshot
    }

    /// How many items of `kind` are open in this scope and its children,
    /// leaving out those its ignore rules match: the count a report of this
    /// scope would show for `kind` (must-close items dropped without close
    /// are not open, so not counted).
    ///
    /// ```
    /// use leakwatch_core::{Ignore, Scope, Tag};
    ///
    /// let scope = Scope::new("s").ignoring([Ignore::Detail("reaper".into())]);
    /// let (reaper, worker) = scope.run(|| (Tag::with_detail("task", "reaper"), Tag::new("task")));
    /// assert_eq!(scope.open_count("task"), usize::from(leakwatch_core::COMPILED_IN));
    /// # drop((reaper, worker));
    /// ```
    pub fn open_count(&self, kind: &str) -> usize {
        if self.ignoring.is_empty() && self.suite_rules().is_none() {
            return Snapshot::count_open(self.id, kind);
        }
        self.snapshot()
            .items()
            .iter()
            .filter(|item| item.kind() == kind && item.finding() == Finding::StillOpen)
            .count()
    }

    /// How many items of `kind` are open in this scope and its children,
    /// those its ignore rules leave out included: for integrations comparing
    /// leakwatch's records with another count of the same things (a
    /// runtime's count of its alive tasks, say). Counted in the registry,
    /// without building a snapshot.
    ///
    /// ```
    /// use leakwatch_core::{Ignore, Scope, Tag};
    ///
    /// let scope = Scope::new("s").ignoring([Ignore::Kind("task".into())]);
    /// let task = scope.run(|| Tag::new("task"));
    /// assert_eq!(scope.open_count("task"), 0);
    /// assert_eq!(scope.open_count_including_ignored("task"), usize::from(leakwatch_core::COMPILED_IN));
    /// # drop(task);
    /// ```
    pub fn open_count_including_ignored(&self, kind: &str) -> usize {
        Snapshot::count_open(self.id, kind)
    }

    /// `Ok` when nothing opened in this scope (or its children) is still
    /// open, else a [`Report`] of what is, waiting for that as
    /// `leakwatch::check` does: items still open are given
    /// [`grace()`](crate::grace) (`LEAKWATCH_GRACE`) to close, and a clean
    /// scope returns at once. [`Scope::check_within`] takes another grace;
    /// [`Scope::check_now`] looks once.
    ///
    /// ```
    /// use leakwatch_core::{Scope, Tag};
    ///
    /// let scope = Scope::new("server");
    /// let socket = scope.run(|| Tag::new("socket"));
    /// let closer = std::thread::spawn(move || {
    ///     std::thread::sleep(std::time::Duration::from_millis(20));
    ///     drop(socket);
    /// });
    /// assert!(scope.check().is_ok(), "closed within the grace");
    /// closer.join().unwrap();
    /// ```
    pub fn check(&self) -> Result<(), Report> {
        self.check_within(settings::grace())
    }

    /// `Ok` when nothing opened in this scope (or its children) is open at
    /// this moment, else a [`Report`] of what is, without waiting: for tests
    /// asserting what is open at a given point.
    ///
    /// Must-close items dropped without close cannot close later: every
    /// check reports them.
    ///
    /// ```
    /// let scope = leakwatch_core::Scope::new("clean");
    /// let tag = scope.run(|| leakwatch_core::Tag::new("file"));
    /// assert_eq!(scope.check_now().is_err(), leakwatch_core::COMPILED_IN);
    /// drop(tag);
    /// assert!(scope.check_now().is_ok());
    /// ```
    pub fn check_now(&self) -> Result<(), Report> {
        let (snapshot, ignored) = self.look();
        self.conclude(&snapshot, ignored)
    }

    /// Like [`Scope::check`], giving work that is closing up to `grace` in
    /// place of [`grace()`](crate::grace): a clean scope returns at once;
    /// otherwise it looks again
    /// with backoff (1 ms, doubling to 50 ms) until nothing is open or
    /// `grace` is over. A must-close item dropped without close cannot be
    /// fixed by waiting, so it fails at once.
    ///
    /// `leakwatch::check` and `#[leakwatch::test]` check this way, with
    /// [`grace()`](crate::grace) unless told otherwise.
    ///
    /// ```
    /// use std::time::Duration;
    /// use leakwatch_core::{Scope, Tag};
    ///
    /// let scope = Scope::new("closing");
    /// let tag = scope.run(|| Tag::new("socket"));
    /// let closer = std::thread::spawn(move || {
    ///     std::thread::sleep(Duration::from_millis(20));
    ///     drop(tag);
    /// });
    /// assert!(scope.check_within(Duration::from_secs(5)).is_ok());
    /// closer.join().unwrap();
    /// ```
    pub fn check_within(&self, grace: Duration) -> Result<(), Report> {
        self.check_within_using(grace, std::thread::sleep)
    }

    /// [`Scope::check_within`] with the pauses between looks made by `wait`,
    /// for callers whose work only progresses while they drive it, such as
    /// a single-threaded async runtime.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let scope = leakwatch_core::Scope::new("s");
    /// let mut waited = Duration::ZERO;
    /// scope.check_within_using(Duration::from_millis(50), |pause| waited += pause).unwrap();
    /// assert_eq!(waited, Duration::ZERO, "a clean scope does not wait");
    /// ```
    pub fn check_within_using(
        &self,
        grace: Duration,
        mut wait: impl FnMut(Duration),
    ) -> Result<(), Report> {
        let mut backoff = Backoff::new(grace);
        loop {
            let (snapshot, ignored) = self.look();
            let waiting_helps = !snapshot.is_empty()
                && snapshot
                    .items()
                    .iter()
                    .all(|item| item.finding() == Finding::StillOpen);
            match backoff.next_pause() {
                Some(pause) if waiting_helps => wait(pause),
                _ => {
                    // Only the last look becomes a report: grouping resolves
                    // sites, which can take longer than the grace the first
                    // time, and a report built while waiting would be stale
                    // by the end of it.
                    return self.conclude(&snapshot, ignored);
                }
            }
        }
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("ignoring", &self.ignoring)
            .field("suite", &self.suite)
            .finish()
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        imp::drop_scope(self.id);
    }
}

cfg_on! {
    mod imp {
        //! Scopes live in the registry's scope table.

        pub(super) use crate::registry::scopes::{create, drop_scope};
    }
}

cfg_off! {
    mod imp {
        //! Tracking is compiled out: there is no current scope to keep.

        use super::ScopeId;

        #[inline]
        pub(super) fn create(_parent: ScopeId) -> ScopeId {
            ScopeId::from_raw(1)
        }

        #[inline]
        pub(super) fn drop_scope(_id: ScopeId) {}
    }
}

#[cfg(test)]
#[cfg(all(not(loom), any(debug_assertions, feature = "production")))]
mod tests;
