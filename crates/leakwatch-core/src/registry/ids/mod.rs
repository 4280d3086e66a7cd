//! Records kept by unique id, for items that cannot carry a handle.
//!
//! tokio's task hooks see a task only as its id, at spawn, at each poll and
//! at its end, and have nowhere to keep a [`Tag`](crate::Tag). A table here
//! keeps such items' records by id instead, registered so that checks and
//! snapshots see them as they see the shards' records.
//!
//! Every task of a runtime is opened and closed here, and looked up by
//! whatever it opens or spawns, so those must cost a few nanoseconds. A
//! table has three parts, each taking what the one before could not: a
//! lock-free [`ring`](super::ring) with a slot per id modulo its size, where
//! short-lived items (nearly all of them) live; a [`wide`] part, lock-free
//! too, for the many items alive at once in a burst, allocated only if one
//! comes; and a locked [`paged`] table for items whose slot is taken in both
//! (and items with a stack). Checks and snapshots read all three.

mod paged;
mod wide;

use std::panic::Location;
use std::sync::{Mutex, PoisonError};

pub(crate) use paged::Entry;
#[cfg(test)]
pub(crate) use paged::tests::entry as test_entry;

use super::counts::Tally;
use super::{NumberIs, Record};
use crate::scope::ScopeId;
use super::ring::{Ring, Seen};
use paged::Paged;
use wide::Wide;

/// Records of one kind by id.
#[derive(Debug)]
pub(crate) struct IdTable {
    kind: &'static str,
    ring: Ring,
    wide: Wide,
    paged: Paged,
}

/// Every table in use, for checks and snapshots.
static TABLES: Mutex<Vec<&'static IdTable>> = Mutex::new(Vec::new());
/// Tables retired empty, for the next of their kind.
static POOL: Mutex<Vec<&'static IdTable>> = Mutex::new(Vec::new());

impl IdTable {
    /// A table for items of `kind`, not visible to checks.
    fn new(kind: &'static str) -> IdTable {
        IdTable {
            kind,
            ring: Ring::new(),
            wide: Wide::default(),
            paged: Paged::default(),
        }
    }

    /// A table for items of `kind`, visible to checks until it is
    /// [retired](IdTable::retire). Tables are never freed, so a reference
    /// may be kept anywhere (the followed table's, see
    /// [`current::follow`](crate::current::follow)): a retired table goes
    /// back to a pool, and is used again, empty, by the next table of its
    /// kind.
    pub(crate) fn registered(kind: &'static str) -> &'static IdTable {
        let pooled = {
            let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
            let mine = pool.iter().position(|t| t.kind == kind);
            mine.map(|at| pool.swap_remove(at))
        };
        let table = pooled.unwrap_or_else(|| Box::leak(Box::new(IdTable::new(kind))));
        TABLES.lock().unwrap_or_else(PoisonError::into_inner).push(table);
        table
    }

    /// Hides the table from checks, drops its records and pools it. No open
    /// may run at the same time or after: its owner is being dropped.
    pub(crate) fn retire(&'static self) {
        TABLES
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|t| !std::ptr::eq(*t, self));
        self.ring.clear();
        self.wide.clear();
        self.paged.clear();
        POOL.lock().unwrap_or_else(PoisonError::into_inner).push(self);
    }

    /// Adds item `id`: in the ring if its slot is free and the entry has no
    /// stack (a slot keeps no allocation), else in the wide part if its slot
    /// there is free, else in the paged table. An id opened again while open
    /// has a record in each (a fourth open replaces the paged one); each
    /// close removes one.
    #[inline]
    pub(crate) fn insert(&self, id: u64, entry: Entry) {
        if entry.stack.is_none() {
            let seen = Seen {
                id,
                scope: entry.scope,
                site: entry.site,
                opened: entry.opened,
                thread: entry.thread,
                kind: "",
                number: None,
            };
            if self.ring.insert(&seen) || self.insert_wide(&seen) {
                return;
            }
        }
        self.paged.insert(id, entry);
    }

    /// [`Wide::insert`], out of line: the ring's callers reach it only
    /// when a slot is taken.
    #[inline(never)]
    fn insert_wide(&self, seen: &Seen) -> bool {
        self.wide.insert(seen)
    }

    /// The scope of item `id`, if the table has it.
    #[inline]
    pub(crate) fn scope(&self, id: u64) -> Option<ScopeId> {
        self.ring.scope(id).or_else(|| self.scope_behind(id))
    }

    /// [`scope`](Self::scope) behind the ring, out of line.
    #[inline(never)]
    fn scope_behind(&self, id: u64) -> Option<ScopeId> {
        self.wide.scope(id).or_else(|| self.paged.scope(id))
    }

    /// Removes a record of item `id`; false if the table has none.
    #[inline]
    pub(crate) fn remove(&self, id: u64) -> bool {
        self.ring.remove(id) || self.remove_behind(id)
    }

    /// [`remove`](Self::remove) behind the ring, out of line.
    #[inline(never)]
    fn remove_behind(&self, id: u64) -> bool {
        self.wide.remove(id) || self.paged.remove(id)
    }

    /// What this table holds of `scopes`.
    pub(crate) fn tally(&self, scopes: &[ScopeId]) -> Tally {
        let mut tally = self.ring.tally(scopes);
        tally += self.wide.tally(scopes);
        tally += self.paged.tally(scopes);
        tally
    }

    /// Calls `f` with every item's record. Records are made for the call (a
    /// stack, if any, is copied): checks are rare.
    pub(crate) fn for_each(&self, f: &mut impl FnMut(&Record)) {
        let mut seen = |seen: &Seen| {
            f(&self.record(seen.id, seen.site, seen.opened, seen.thread, seen.scope, None));
        };
        self.ring.for_each(&mut seen);
        self.wide.for_each(&mut seen);
        self.paged.for_each(&mut |id, entry| {
            let stack = entry.stack.clone();
            f(&self.record(id, entry.site, entry.opened, entry.thread, entry.scope, stack));
        });
    }

    fn record(
        &self,
        id: u64,
        site: &'static Location<'static>,
        opened: u64,
        thread: u32,
        scope: ScopeId,
        stack: Option<Box<crate::stack::Stack>>,
    ) -> Record {
        Record {
            kind: self.kind,
            site,
            opened,
            thread,
            scope,
            must_close: false,
            number_is: NumberIs::Id,
            number: id,
            detail: None,
            stack,
        }
    }
}

/// A count that grows as items close in any table in use (an estimate for
/// the rings, from a few slots of each): how busy the tables are, for the
/// clock thread (see [`clock::Ticking`](crate::clock::Ticking)).
pub(super) fn activity() -> u64 {
    tables()
        .iter()
        .map(|table| {
            let behind = table.wide.removals().wrapping_add(table.paged.removals());
            table.ring.removals_estimate().wrapping_add(behind)
        })
        .fold(0, u64::wrapping_add)
}

/// Every table in use now.
pub(crate) fn tables() -> Vec<&'static IdTable> {
    TABLES.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

#[cfg(test)]
mod tests {
    use super::paged::tests::entry;
    use super::wide::SPAN;
    use super::{Entry, IdTable, tables};
    use crate::registry::ring::SLOTS;
    use crate::scope::ScopeId;

    fn ids(table: &IdTable) -> Vec<u64> {
        let mut ids = Vec::new();
        table.for_each(&mut |r| {
            assert_eq!((r.kind, r.id()), ("task", Some(r.number)));
            ids.push(r.number);
        });
        ids.sort_unstable();
        ids
    }

    #[test]
    fn items_whose_slot_is_taken_go_behind_the_ring() {
        let (a, b) = (ScopeId::for_tests(3_001), ScopeId::for_tests(3_002));
        let table = IdTable::new("task");
        // Item 5 takes its ring slot, `wide` its slot in the wide part,
        // `paged` finds both of its slots taken.
        let wide = 5 + SLOTS as u64;
        let paged = wide + SPAN;
        table.insert(5, entry(a));
        table.insert(wide, entry(b));
        table.insert(paged, entry(a));
        table.insert(5, entry(b)); // opened twice: recorded twice
        let scopes = [5, wide, paged].map(|id| table.scope(id));
        assert_eq!(scopes, [Some(a), Some(b), Some(a)]);
        assert_eq!((table.tally(&[a]).open, table.tally(&[b]).open), (2, 2));
        assert_eq!(ids(&table), [5, 5, wide, paged]);
        let in_parts = (table.ring.scope(wide), table.wide.scope(wide), table.wide.scope(paged));
        assert_eq!(in_parts, (None, Some(b), None));
        assert_eq!((table.paged.scope(paged), table.paged.scope(5)), (Some(a), None));

        let mut before = table.tally(&[a, b]);
        for id in [5, 5, wide, paged] {
            assert!(table.remove(id), "item {id}");
            let after = table.tally(&[a, b]);
            assert_ne!(after.removed, before.removed, "the removal of {id} shows");
            before = after;
            if before.open == 3 {
                assert_eq!(table.scope(5), Some(b), "the second record of 5");
            }
        }
        assert_eq!(table.scope(5), None);
        assert!(!table.remove(5));
        assert_eq!(before.open, 0);
        assert!(ids(&table).is_empty());
    }

    #[cfg(feature = "stacks")]
    #[test]
    fn items_with_a_stack_keep_it() {
        let scope = ScopeId::for_tests(3_003);
        let table = IdTable::new("task");
        let stack = crate::stack::capture();
        let addresses = stack.as_ref().map(|s| s.addresses().to_vec());
        assert!(addresses.is_some(), "a stacks build captures");
        table.insert(9, Entry { stack, ..entry(scope) });
        let mut stacks = Vec::new();
        table.for_each(&mut |r| stacks.push(r.stack().map(|s| s.addresses().to_vec())));
        assert_eq!(stacks, [addresses]);
        assert!(table.remove(9));
    }

    #[test]
    fn a_check_never_finds_a_chain_of_items_quiet() {
        // Each item opens the next before it closes, so one is always open,
        // though a check reading slot after slot may see none: the removal
        // counts must tell it that it read while things changed. Ids step
        // back and forth across the ring, the wide part and the paged table.
        use std::sync::atomic::{AtomicBool, Ordering};
        let scope = ScopeId::for_tests(3_004);
        let other = ScopeId::for_tests(3_006);
        let table = IdTable::registered("task");
        let done = std::sync::Arc::new(AtomicBool::new(false));
        // Two items of another scope hold a slot in the ring and one in the
        // wide part for the whole test: one item of the chain in 32 shares
        // the first with them and goes to the wide part, one in 32 shares
        // both and goes to the paged table.
        let pin = 7;
        table.insert(pin, entry(other));
        table.insert(pin + SPAN, entry(other));
        let step = move |n: u64| match n % 64 {
            0 => pin + (n + 2) * SPAN,
            32 => pin + (n * 3 + 1) * SLOTS as u64,
            _ => n * 4_096 + n * 97 % 4_000 + 1,
        };
        table.insert(step(1), entry(scope));
        let chain = {
            let done = done.clone();
            std::thread::spawn(move || {
                let mut id = step(1);
                for n in 2..200_000 {
                    let next = step(n);
                    table.insert(next, entry(scope));
                    assert!(table.remove(id));
                    id = next;
                }
                done.store(true, Ordering::Relaxed);
                id
            })
        };
        let mut looks = 0;
        while !done.load(Ordering::Relaxed) {
            assert!(!crate::registry::quiet(&[scope]), "quiet while an item was open");
            looks += 1;
        }
        let last = chain.join().unwrap();
        assert!(looks > 0);
        assert!(table.remove(last));
        assert!(crate::registry::quiet(&[scope]));
        assert!(table.remove(pin) && table.remove(pin + SPAN));
        table.retire();
    }

    #[test]
    fn retired_tables_are_hidden_emptied_and_used_again_for_their_kind() {
        let scope = ScopeId::for_tests(3_005);
        let kind = "retire-test";
        let table = IdTable::registered(kind);
        assert!(tables().iter().any(|t| std::ptr::eq(*t, table)));
        table.insert(1, entry(scope));
        table.insert(1 + SLOTS as u64, entry(scope));
        assert_eq!(crate::registry::tally(&[scope]).open, 2);
        let before = table.tally(&[scope]).removed;

        table.retire();
        assert!(tables().iter().all(|t| !std::ptr::eq(*t, table)));
        assert_eq!((table.scope(1), table.scope(1 + SLOTS as u64)), (None, None));
        assert_eq!(table.tally(&[scope]).open, 0);
        assert_eq!(table.tally(&[scope]).removed, before + 2, "clearing counts removals");

        let other_kind = IdTable::registered("retire-test-other");
        assert!(!std::ptr::eq(other_kind, table), "pooled for its own kind only");
        let again = IdTable::registered(kind);
        assert!(std::ptr::eq(again, table), "the pooled table is used again");
        assert!(ids(again).is_empty());
        assert!(tables().iter().any(|t| std::ptr::eq(*t, again)));
        again.retire();
        other_kind.retire();
    }
}
