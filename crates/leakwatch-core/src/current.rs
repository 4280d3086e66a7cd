//! Each thread's current scope, and the scope of the item a thread runs.
//!
//! What a thread opens belongs to its current scope. Most of the time that
//! is a plain [`ScopeId`], set by [`ScopeId::enter`]. While tokio polls a
//! task, though, it is the scope the task was spawned in, which only the
//! runtime's hooks know, as "task 17 of this table". Telling the thread so
//! before and after every poll costs two calls per poll, and few polls
//! open anything or spawn. So the thread is told nothing: a table is
//! *followed* instead ([`follow`]), with a function that names the item the
//! calling thread is running (tokio's `task::try_id`), and
//! [`ScopeId::current`] asks it. Inside an item the table has, the item's
//! scope is current. The lookup is made each time (a ring slot read without
//! a lock, for nearly every item): ids may be used again once their item
//! closed, so nothing an earlier lookup found is kept.
//!
//! A scope entered *inside* the running item (a guard: `Scope::run` in a
//! task, or `leakwatch::tokio`'s own tasks entering theirs) wins over the
//! item's, and a scope entered outside it (the test's, around `block_on`)
//! loses to it: each entry notes the item that was running when it was made.

use crate::scope_id::ScopeId;

cfg_on! {
    use std::cell::Cell;
    use std::sync::OnceLock;

    use crate::registry::ids::IdRecords;

    /// The followed table, and how to name the item a thread runs.
    struct Followed {
        table: &'static IdRecords,
        running: fn() -> Option<u64>,
    }

    impl Followed {
        /// The item the calling thread runs, 0 for none.
        #[inline]
        fn running_item(&self) -> u64 {
            (self.running)().unwrap_or(0)
        }
    }

    /// Set at most once per process: tokio's task ids are unique across
    /// runtimes, so one table serves them all.
    static FOLLOWED: OnceLock<Followed> = OnceLock::new();

    // Destructor-free cells, readable while the thread is torn down.
    thread_local! {
        /// The scope entered last.
        static CURRENT: Cell<ScopeId> = const { Cell::new(ScopeId::NONE) };
        /// The item running when `CURRENT` was entered, 0 for none.
        static ENTERED_IN: Cell<u64> = const { Cell::new(0) };
    }

    /// What an entry replaced, to be put back by [`restore`].
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Outer {
        scope: ScopeId,
        entered_in: u64,
    }

    /// Makes `table`'s items the current scope of the code they run, for
    /// the rest of the process: `running` names the item the calling thread
    /// runs (`None` or `Some(0)` for none). False, and nothing changes, if a
    /// table is followed already.
    pub(crate) fn follow(table: &'static IdRecords, running: fn() -> Option<u64>) -> bool {
        FOLLOWED.set(Followed { table, running }).is_ok()
    }

    /// The calling thread's current scope.
    #[inline]
    pub(crate) fn get() -> ScopeId {
        let entered = CURRENT.get();
        match FOLLOWED.get() {
            None => entered,
            Some(followed) => in_item(followed, followed.running_item(), entered),
        }
    }

    /// [`get`] for a caller that knows which item of `table` the thread
    /// runs, as the function `table` is followed with would name it: if
    /// `table` is the followed one, spares asking that function.
    #[inline]
    pub(crate) fn get_running(table: &IdRecords, running: Option<u64>) -> ScopeId {
        match FOLLOWED.get() {
            Some(followed) if std::ptr::eq(followed.table, table) => {
                in_item(followed, running.unwrap_or(0), CURRENT.get())
            }
            _ => get(),
        }
    }

    /// The scope of item `item` (0 for none), which the thread runs, unless
    /// `entered` was entered inside it (or the table has no such item).
    #[inline]
    fn in_item(followed: &Followed, item: u64, entered: ScopeId) -> ScopeId {
        if item == 0 || item == ENTERED_IN.get() {
            return entered;
        }
        followed.table.scope(item).unwrap_or(entered)
    }

    /// The item the thread runs, 0 for none (or no table followed).
    #[inline]
    fn running_item() -> u64 {
        FOLLOWED.get().map_or(0, Followed::running_item)
    }

    /// Makes `scope` current, returning what it replaced.
    #[inline]
    pub(crate) fn enter(scope: ScopeId) -> Outer {
        Outer {
            scope: CURRENT.replace(scope),
            entered_in: ENTERED_IN.replace(running_item()),
        }
    }

    /// Puts back what [`enter`] returned.
    #[inline]
    pub(crate) fn restore(outer: Outer) {
        CURRENT.set(outer.scope);
        ENTERED_IN.set(outer.entered_in);
    }
}

cfg_off! {
    /// What an entry replaced: nothing, with tracking compiled out.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Outer;

    #[inline(always)]
    pub(crate) fn get() -> ScopeId {
        ScopeId::NONE
    }

    #[inline(always)]
    pub(crate) fn enter(_scope: ScopeId) -> Outer {
        Outer
    }

    #[inline(always)]
    pub(crate) fn restore(_outer: Outer) {}
}

#[cfg(test)]
#[cfg(all(not(loom), any(debug_assertions, feature = "production")))]
pub(crate) mod tests {
    use std::cell::Cell;

    use std::panic::Location;

    use super::{enter, follow, get, get_running, restore};
    use crate::registry::ids::IdRecords;
    use crate::registry::scopes;
    use crate::scope_id::ScopeId;

    /// `n` new scopes.
    fn scopes<const N: usize>() -> [ScopeId; N] {
        std::array::from_fn(|_| scopes::create(ScopeId::NONE))
    }

    /// Opens item `id` of `table` in `scope`.
    fn open(table: &IdRecords, id: u64, scope: ScopeId) {
        table.insert(id, Location::caller(), scope, None);
    }

    thread_local! {
        /// The item the test thread pretends to run.
        static RUNNING: Cell<Option<u64>> = const { Cell::new(None) };
    }

    /// The table the core's tests follow, followed on first use. Its items
    /// are "run" by [`running`], and only on threads that set one, so other
    /// tests never see it.
    pub(crate) fn followed() -> &'static IdRecords {
        static TABLE: std::sync::OnceLock<&'static IdRecords> = std::sync::OnceLock::new();
        TABLE.get_or_init(|| {
            let table = IdRecords::registered("followed-test");
            assert!(follow(table, || RUNNING.get()), "followed once");
            table
        })
    }

    /// Runs `f` as if inside item `id` (as tokio runs a task's poll).
    pub(crate) fn running<R>(id: u64, f: impl FnOnce() -> R) -> R {
        let outer = RUNNING.replace(Some(id));
        let out = f();
        RUNNING.set(outer);
        out
    }

    #[test]
    fn inside_an_item_its_scope_is_current_and_outside_the_entered_one() {
        let table = followed();
        let [thread, task] = scopes();
        open(table, 10, task);

        let outer = enter(thread);
        assert_eq!(running(10, get), task, "the item's, though entered outside");
        assert_eq!(get(), thread, "outside it");
        assert!(table.remove(10));
        assert_eq!(running(10, get), thread, "closed: the entered scope");
        // The id used again by an item of another scope: that one's.
        let [other] = scopes();
        open(table, 10, other);
        assert_eq!(running(10, get), other, "id 10 used again");
        assert!(table.remove(10));
        // An item the table does not have: the entered scope.
        assert_eq!(running(11, get), thread);
        restore(outer);
        assert_eq!(get(), ScopeId::NONE);
    }

    #[test]
    fn a_caller_that_names_the_running_item_is_answered_without_asking() {
        let table = followed();
        let other = IdRecords::registered("not-followed-test");
        let [thread, task] = scopes();
        open(table, 20, task);
        open(other, 20, task);
        let outer = enter(thread);
        // The followed table is told item 20 runs, though its function
        // (`RUNNING`) says none does.
        assert_eq!(get_running(table, Some(20)), task);
        assert_eq!(get_running(table, None), thread);
        // Another table's item means nothing to the followed one: its
        // function is asked, as `get` does.
        assert_eq!(get_running(other, Some(20)), thread);
        assert_eq!(running(20, || get_running(other, None)), task);
        restore(outer);
        assert!(table.remove(20) && other.remove(20));
        other.retire();
    }

    #[test]
    fn a_scope_entered_inside_an_item_wins_until_it_is_left() {
        let table = followed();
        let [thread, task, guard] = scopes();
        open(table, 20, task);
        let outer = enter(thread);
        running(20, || {
            let in_task = enter(guard);
            assert_eq!(get(), guard, "entered inside the item");
            // Another item run inside this one (a task driving a second
            // runtime from `block_in_place`): its scope, then ours again.
            open(table, 21, thread);
            assert_eq!(running(21, get), thread);
            assert_eq!(get(), guard);
            restore(in_task);
            assert_eq!(get(), task, "left: the item's again");
            assert!(table.remove(21));
        });
        assert!(table.remove(20));
        restore(outer);
    }

    #[test]
    fn an_item_opened_in_no_scope_runs_in_none() {
        let table = followed();
        let [thread] = scopes();
        open(table, 30, ScopeId::NONE);
        let outer = enter(thread);
        assert_eq!(running(30, get), ScopeId::NONE);
        assert!(table.remove(30));
        restore(outer);
    }

    #[test]
    fn a_second_table_is_not_followed() {
        followed();
        let other = IdRecords::registered("followed-test-other");
        assert!(!follow(other, || Some(1)));
        other.retire();
    }
}
