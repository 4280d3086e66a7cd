//! Items opened and closed by id, for integrations that cannot keep a tag.
//!
//! A [`Tag`](crate::Tag) lives inside the resource it tracks. Some items
//! are only ever seen from outside, by a number: tokio's task hooks are told
//! "task 17 was spawned here" and "task 17 ended", and have nowhere to keep
//! a tag between those calls. [`IdTable`] keeps their records by that id
//! instead, and checks, snapshots and reports see them like any other item
//! (the id shown as `id 17`).
//!
//! Ids must be unique while their items are open, and may be used again
//! once their item closed (tokio allows it for task ids). Opening, looking
//! up and closing an item take no lock while at most a few hundred are
//! open at once (a compare-exchange and a few plain loads and stores),
//! because a hook does them for every task; items with a stack
//! (`LEAKWATCH=stacks`), and ids whose slot is taken, go to a locked map.

use std::panic::Location;

use crate::ScopeId;

/// A table of items of one kind, opened and closed by id, for integrations
/// that see an item only as an id: tokio's task hooks are told "task 17 was
/// spawned here" and "task 17 ended", and have nowhere to keep a
/// [`Tag`](crate::Tag) between those calls. Checks,
/// snapshots and reports see these items like any other (the id shown as
/// `id 17`). Ids must be unique while their items are open, and may be used
/// again once closed. Dropping the table closes its items.
///
/// While tables and threads' plain items are busy (over half a million
/// items closing a second), open times are read from a clock that a
/// background thread, `leakwatch-clock`, keeps up to date every 4 ms, so an
/// open reads no clock; ages in reports may then be a few milliseconds too
/// long. Otherwise the thread looks at the activity every 100 ms. One thread
/// serves the whole process.
///
/// With tracking compiled out it is zero-sized and does nothing, and no
/// thread is started.
///
/// ```
/// use leakwatch_core::{IdTable, Scope};
/// use std::panic::Location;
///
/// let tasks = IdTable::new("task");
/// let test = Scope::new("test");
/// tasks.open(17, Location::caller(), test.id());
/// assert_eq!(test.check_now().is_err(), leakwatch_core::COMPILED_IN);
/// tasks.close(17);
/// assert!(test.check_now().is_ok());
/// ```
#[derive(Debug)]
pub struct IdTable {
    inner: imp::Inner,
}

impl IdTable {
    /// A table for items of `kind`, visible to checks until it is dropped.
    ///
    /// ```
    /// let tasks = leakwatch_core::IdTable::new("task");
    /// # drop(tasks);
    /// ```
    pub fn new(kind: &'static str) -> IdTable {
        IdTable {
            inner: imp::new(kind),
        }
    }

    /// Records item `id` as open, opened at `site` in `scope`, now (to a
    /// few milliseconds, see [`IdTable`]); at
    /// `LEAKWATCH=stacks` with the calling thread's stack. Returns whether
    /// it was recorded (not when `LEAKWATCH=off` or compiled out). Ids
    /// must be unique while open: what the table keeps of an id opened
    /// again before it closed is unspecified (at most two records, each
    /// removed by one close).
    ///
    /// ```
    /// use leakwatch_core::{IdTable, ScopeId};
    ///
    /// let jobs = IdTable::new("job");
    /// let recorded = jobs.open(1, std::panic::Location::caller(), ScopeId::current());
    /// assert_eq!(recorded, leakwatch_core::COMPILED_IN);
    /// ```
    #[inline]
    pub fn open(&self, id: u64, site: &'static Location<'static>, scope: ScopeId) -> bool {
        imp::open(&self.inner, id, site, scope)
    }

    /// The scope item `id` was opened in, if it is open.
    ///
    /// ```
    /// use leakwatch_core::{IdTable, Scope};
    ///
    /// let jobs = IdTable::new("job");
    /// let scope = Scope::new("s");
    /// jobs.open(2, std::panic::Location::caller(), scope.id());
    /// let expected = leakwatch_core::COMPILED_IN.then(|| scope.id());
    /// assert_eq!(jobs.scope(2), expected);
    /// assert_eq!(jobs.scope(3), None);
    /// ```
    #[inline]
    pub fn scope(&self, id: u64) -> Option<ScopeId> {
        imp::scope(&self.inner, id)
    }

    /// Records item `id` as closed. Returns whether it was open.
    ///
    /// ```
    /// use leakwatch_core::{IdTable, ScopeId};
    ///
    /// let jobs = IdTable::new("job");
    /// jobs.open(4, std::panic::Location::caller(), ScopeId::current());
    /// assert_eq!(jobs.close(4), leakwatch_core::COMPILED_IN);
    /// assert!(!jobs.close(4));
    /// ```
    #[inline]
    pub fn close(&self, id: u64) -> bool {
        imp::close(&self.inner, id)
    }

    /// Makes each item of this table the current scope of the code that
    /// runs *inside* it, for the rest of the process: `running` names the
    /// item the calling thread runs (`None`, or `Some(0)`, for none), as
    /// `tokio::task::try_id` names the task being polled. Then
    /// [`ScopeId::current`] there is the scope the item was opened in
    /// (looked up when asked, once per item per thread, so polls cost
    /// nothing), unless a scope was entered inside the item, which wins.
    /// One table per process can be followed: returns false, changing
    /// nothing, if one is already (or with tracking compiled out).
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::sync::LazyLock;
    /// use leakwatch_core::{IdTable, Scope, ScopeId};
    ///
    /// thread_local!(static RUNNING: Cell<Option<u64>> = const { Cell::new(None) });
    /// static JOBS: LazyLock<IdTable> = LazyLock::new(|| IdTable::new("job"));
    ///
    /// let followed = JOBS.follow(|| RUNNING.get());
    /// assert_eq!(followed, leakwatch_core::COMPILED_IN);
    /// let test = Scope::new("test");
    /// JOBS.open(3, std::panic::Location::caller(), test.id());
    /// RUNNING.set(Some(3)); // a worker starts running job 3
    /// let expected = if followed { test.id() } else { ScopeId::NONE };
    /// assert_eq!(ScopeId::current(), expected);
    /// RUNNING.set(None);
    /// assert_eq!(ScopeId::current(), ScopeId::NONE);
    /// # JOBS.close(3);
    /// ```
    pub fn follow(&'static self, running: fn() -> Option<u64>) -> bool {
        imp::follow(&self.inner, running)
    }

    /// [`ScopeId::current`], for a caller that knows which item of this
    /// table the calling thread runs: `running` is what the function given
    /// to [`follow`](Self::follow) would return now. If this table is the
    /// followed one, that function is not asked again (tokio's spawn hook
    /// knows the spawning task, and every spawn pays for the asking);
    /// otherwise `running` is ignored.
    ///
    /// ```
    /// use leakwatch_core::{IdTable, Scope, ScopeId};
    ///
    /// let jobs = IdTable::new("job");
    /// let scope = Scope::new("s");
    /// let _in_scope = scope.id().enter();
    /// // Not followed: the thread's current scope, whatever `running` says.
    /// assert_eq!(jobs.current_scope(Some(3)), ScopeId::current());
    /// ```
    #[inline]
    pub fn current_scope(&self, running: Option<u64>) -> ScopeId {
        imp::current_scope(&self.inner, running)
    }
}

cfg_on! {
    mod imp {
        use std::panic::Location;

        use crate::config::{self, Level};
        use crate::registry::ids::IdRecords;
        use crate::registry;
        use crate::scope_id::ScopeId;
        use crate::{clock, current, stack};

        #[derive(Debug)]
        pub(super) struct Inner {
            /// Pooled, never freed: a followed table is kept for the
            /// process's life (see [`follow`]).
            table: &'static IdRecords,
            /// Keeps [`clock::recent_nanos`] a load while the table lives
            /// and the tables are busy (not when tracking is off as it is
            /// made).
            _ticking: Option<clock::Ticking>,
        }

        pub(super) fn new(kind: &'static str) -> Inner {
            Inner {
                table: IdRecords::registered(kind),
                _ticking: (config::level() != Level::Off)
                    .then(|| clock::Ticking::start(registry::activity)),
            }
        }

        #[inline]
        pub(super) fn open(
            inner: &Inner,
            id: u64,
            site: &'static Location<'static>,
            scope: ScopeId,
        ) -> bool {
            let Some(level) = config::level_for_open() else {
                return false;
            };
            let stack = stack::capture_for(site, level);
            inner.table.insert(id, site, scope, stack);
            true
        }

        #[inline]
        pub(super) fn scope(inner: &Inner, id: u64) -> Option<ScopeId> {
            inner.table.scope(id)
        }

        #[inline]
        pub(super) fn close(inner: &Inner, id: u64) -> bool {
            inner.table.remove(id)
        }

        pub(super) fn follow(inner: &'static Inner, running: fn() -> Option<u64>) -> bool {
            current::follow(inner.table, running)
        }

        #[inline]
        pub(super) fn current_scope(inner: &Inner, running: Option<u64>) -> ScopeId {
            current::get_running(inner.table, running)
        }

        impl Drop for Inner {
            fn drop(&mut self) {
                self.table.retire();
            }
        }
    }
}

cfg_off! {
    mod imp {
        use std::panic::Location;

        use crate::scope_id::ScopeId;

        pub(super) type Inner = ();

        #[inline(always)]
        pub(super) fn new(_: &'static str) {}

        #[inline(always)]
        pub(super) fn open(_: &Inner, _: u64, _: &'static Location<'static>, _: ScopeId) -> bool {
            false
        }

        #[inline(always)]
        pub(super) fn scope(_: &Inner, _: u64) -> Option<ScopeId> {
            None
        }

        #[inline(always)]
        pub(super) fn close(_: &Inner, _: u64) -> bool {
            false
        }

        #[inline(always)]
        pub(super) fn current_scope(_: &Inner, _: Option<u64>) -> ScopeId {
            ScopeId::NONE
        }

        pub(super) fn follow(_: &'static Inner, _: fn() -> Option<u64>) -> bool {
            false
        }
    }
}
