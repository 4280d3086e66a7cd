//! Each thread's current scope, and current scopes deferred to an item's.
//!
//! What a thread opens belongs to its current scope. Most of the time that
//! is a plain [`ScopeId`], set by [`ScopeId::enter`]. While tokio polls a
//! task it is the scope the task was spawned in, which the runtime's hooks
//! know only as "task 17 of this table". Looking that up before every poll
//! costs more than most polls need, since few of them open anything or
//! spawn. So a poll *defers* the current scope to the task instead: the
//! thread keeps the table and the id, and the first [`ScopeId::current`]
//! that asks during the poll looks the scope up, and keeps it until the poll
//! ends. Deferrals nest, for a task that drives another runtime inside its
//! poll.

use crate::scope::ScopeId;

cfg_on! {
    use std::cell::{Cell, RefCell};

    use crate::registry::ids::IdTable;

    /// Stands in the current scope while it is deferred to an item's.
    /// Scope ids are counted up from 1 and never reach it.
    const DEFERRED: ScopeId = ScopeId::from_raw(u64::MAX);

    // The fields of a thread's state, each in a destructor-free cell of its
    // own, so a poll's enter and leave touch only what they change.
    thread_local! {
        /// The current scope, or [`DEFERRED`].
        static CURRENT: Cell<ScopeId> = const { Cell::new(ScopeId::NONE) };
        /// Whose scope is current while `CURRENT` is [`DEFERRED`]. Tables
        /// are never freed ([`IdTable::registered`]), so keeping one here
        /// is safe however long the thread keeps it.
        static TABLE: Cell<Option<&'static IdTable>> = const { Cell::new(None) };
        static ID: Cell<u64> = const { Cell::new(0) };
        /// What was current before the deferral: put back when it ends, and
        /// current meanwhile if the table does not have the item (a task
        /// the hooks leave to `leakwatch::tokio`'s own records, say).
        static OUTER: Cell<ScopeId> = const { Cell::new(ScopeId::NONE) };
        /// Deferrals in force on this thread.
        static DEPTH: Cell<u32> = const { Cell::new(0) };
        /// The state that deferrals inside deferrals replaced, innermost
        /// last: tokio does not nest polls on one thread, but a task may
        /// drive another runtime (in `block_in_place`, say).
        static NESTED: RefCell<Vec<Saved>> = const { RefCell::new(Vec::new()) };
    }

    /// A thread's state as a nested deferral found it.
    struct Saved {
        current: ScopeId,
        table: Option<&'static IdTable>,
        id: u64,
        outer: ScopeId,
    }

    /// The calling thread's current scope; a deferred one is looked up here.
    #[inline]
    pub(crate) fn get() -> ScopeId {
        match CURRENT.get() {
            DEFERRED => resolve(),
            scope => scope,
        }
    }

    /// Looks up the deferred scope, and keeps it current until the
    /// deferral ends. Out of line: most polls ask for no scope.
    #[inline(never)]
    fn resolve() -> ScopeId {
        let scope = deferred_scope();
        CURRENT.set(scope);
        scope
    }

    /// The scope the thread's deferral stands for.
    fn deferred_scope() -> ScopeId {
        TABLE
            .get()
            .and_then(|table| table.scope(ID.get()))
            .unwrap_or_else(|| OUTER.get())
    }

    /// Makes `scope` current, returning the raw value it replaced (which
    /// may be [`DEFERRED`]: put back by [`set_raw`] within the same
    /// deferral, it stands for the same item).
    #[inline]
    pub(crate) fn replace_raw(scope: ScopeId) -> ScopeId {
        CURRENT.replace(scope)
    }

    /// Puts back what [`replace_raw`] returned.
    #[inline]
    pub(crate) fn set_raw(scope: ScopeId) {
        CURRENT.set(scope);
    }

    /// Makes the scope of item `id` of `table` current, to be looked up if
    /// anything asks, until the matching [`leave`].
    #[inline]
    pub(crate) fn enter(table: &'static IdTable, id: u64) {
        let current = CURRENT.get();
        if DEPTH.get() != 0 || current == DEFERRED {
            return enter_nested(table, id);
        }
        DEPTH.set(1);
        OUTER.set(current);
        CURRENT.set(DEFERRED);
        TABLE.set(Some(table));
        ID.set(id);
    }

    /// [`enter`] inside another deferral, or where a guard left a deferral
    /// in place: the whole state is kept to be put back.
    #[inline(never)]
    fn enter_nested(table: &'static IdTable, id: u64) {
        let saved = Saved {
            current: CURRENT.get(),
            table: TABLE.get(),
            id: ID.get(),
            outer: OUTER.get(),
        };
        let outer = get();
        // A thread being torn down has no thread-locals to keep it in; its
        // deferral then ends with the thread.
        if NESTED.try_with(|nested| nested.borrow_mut().push(saved)).is_err() {
            return;
        }
        DEPTH.set(DEPTH.get() + 1);
        OUTER.set(outer);
        CURRENT.set(DEFERRED);
        TABLE.set(Some(table));
        ID.set(id);
    }

    /// Ends the latest [`enter`] on this thread, putting back what was
    /// current before it. Does nothing if none is in force.
    #[inline]
    pub(crate) fn leave() {
        match DEPTH.get() {
            0 => {}
            1 => {
                DEPTH.set(0);
                CURRENT.set(OUTER.get());
            }
            _ => leave_nested(),
        }
    }

    /// [`leave`] for a nested deferral.
    #[inline(never)]
    fn leave_nested() {
        let saved = NESTED.try_with(|nested| nested.borrow_mut().pop()).ok().flatten();
        DEPTH.set(DEPTH.get() - 1);
        if let Some(saved) = saved {
            CURRENT.set(saved.current);
            TABLE.set(saved.table);
            ID.set(saved.id);
            OUTER.set(saved.outer);
        }
    }
}

cfg_off! {
    #[inline(always)]
    pub(crate) fn get() -> ScopeId {
        ScopeId::NONE
    }

    #[inline(always)]
    pub(crate) fn replace_raw(_scope: ScopeId) -> ScopeId {
        ScopeId::NONE
    }

    #[inline(always)]
    pub(crate) fn set_raw(_scope: ScopeId) {}
}

#[cfg(all(test, any(debug_assertions, feature = "production")))]
mod tests {
    use super::{enter, get, leave, replace_raw, set_raw};
    use crate::registry::ids::{IdTable, test_entry as entry};
    use crate::scope::ScopeId;

    /// Three scopes numbered from `first`, and a table to defer to.
    fn setup(first: u64) -> ([ScopeId; 3], &'static IdTable) {
        let scopes = [0, 1, 2].map(|n| ScopeId::for_tests(first + n));
        (scopes, IdTable::registered("deferral-test"))
    }

    #[test]
    fn a_deferred_scope_is_the_items_and_what_it_replaced_comes_back() {
        let ([outer, task, entered], table) = setup(4_001);
        table.insert(10, entry(task));

        let before = replace_raw(outer);
        enter(table, 10);
        assert_eq!(get(), task, "looked up");
        assert_eq!(get(), task, "and kept");
        leave();
        assert_eq!(get(), outer);

        // An item the table does not have: the scope it replaced.
        enter(table, 11);
        assert_eq!(get(), outer);
        leave();

        // A scope entered inside a deferral (as a guard does) puts the
        // deferral back, not the scope looked up, nor the outer one.
        enter(table, 10);
        let inner = replace_raw(entered);
        assert_eq!(get(), entered);
        set_raw(inner);
        assert!(table.remove(10));
        assert_eq!(get(), outer, "deferred still: the item is gone now");
        leave();
        assert_eq!(get(), outer);
        leave(); // unbalanced: nothing to end
        assert_eq!(get(), outer);
        set_raw(before);
        table.retire();
    }

    #[test]
    fn deferrals_nest() {
        let ([outer, a, b], table) = setup(4_011);
        table.insert(20, entry(a));
        table.insert(21, entry(b));
        let before = replace_raw(outer);

        enter(table, 20);
        enter(table, 21);
        assert_eq!(get(), b);
        // Inside a deferral, an item the table lacks: the enclosing
        // deferral's scope.
        enter(table, 22);
        assert_eq!(get(), b);
        leave();
        leave();
        assert_eq!(get(), a, "the outer deferral, looked up");
        leave();
        assert_eq!(get(), outer);

        // A guard entered inside a deferral and still in force when the
        // next one starts: that one nests, and the guard's scope returns.
        enter(table, 20);
        let guard = replace_raw(b);
        enter(table, 22);
        assert_eq!(get(), b, "the table lacks 22: the scope current before");
        leave();
        assert_eq!(get(), b);
        set_raw(guard);
        assert_eq!(get(), a);
        leave();
        assert_eq!(get(), outer);

        set_raw(before);
        assert!(table.remove(20) && table.remove(21));
        table.retire();
    }

    #[test]
    fn a_deferral_to_a_retired_table_finds_nothing() {
        let outer = ScopeId::for_tests(4_021);
        let table = IdTable::registered("deferral-test-retired");
        table.insert(30, entry(ScopeId::for_tests(4_022)));
        let before = replace_raw(outer);
        enter(table, 30);
        table.retire();
        assert_eq!(get(), outer, "the item went with its table");
        leave();
        set_raw(before);
    }
}
