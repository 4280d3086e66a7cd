//! Records kept by id, for items that cannot carry a handle.
//!
//! tokio's task hooks see a task only as its id, at spawn and at its end,
//! and have nowhere to keep a [`Tag`](crate::Tag); a table keeps such
//! items by id instead. Every task of a runtime is opened and closed here,
//! and looked up by whatever it opens or spawns, so each costs a few
//! nanoseconds. A table has three parts, each taking what the one before
//! could not: a lock-free [`ring`](super::ring), where short-lived items
//! (nearly all) live; a wide part, rings too, of [`CHUNKS`] chunks of
//! [`CHUNK`] slots allocated as ids first fall in them, for bursts (100,000
//! tasks spawned before any is awaited: a locked map there costs a runtime
//! half its speed); and a locked [`map`](super::map) for items whose slots
//! are both taken, and items with a stack. Their place among the records,
//! and why tables are never freed: the registry's docs, "# Where a record
//! lives" and "# Never freed".
//!
//! Ids may be used again once their item closed (tokio allows it): every
//! part drops an id's record when it closes, so a lookup of an id used
//! again finds the new item's scope.

use std::panic::Location;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::map::Map;
use super::ring::{Ring, Seen};
use super::{Number, Record, counts, thread};
use crate::clock;
use crate::scope_id::ScopeId;
use crate::stack::Stack;

/// Slots per chunk of the wide part: 64 KiB of them.
const CHUNK: usize = 1_024;
/// Chunks in the wide part: at most 8 MiB per table, only after bursts.
const CHUNKS: usize = 128;

/// Records of one kind by id.
#[derive(Debug)]
pub(crate) struct IdRecords {
    kind: &'static str,
    ring: Ring,
    /// Chunk `n` holds the ids whose `id / CHUNK % CHUNKS` is `n`.
    wide: [OnceLock<Box<Ring<CHUNK>>>; CHUNKS],
    map: Map<Record>,
}

/// Every table in use, for snapshots.
static TABLES: Mutex<Vec<&'static IdRecords>> = Mutex::new(Vec::new());
/// Tables retired empty, for the next of their kind.
static POOL: Mutex<Vec<&'static IdRecords>> = Mutex::new(Vec::new());

impl IdRecords {
    /// A table for items of `kind`, not visible to snapshots.
    fn new(kind: &'static str) -> IdRecords {
        IdRecords {
            kind,
            ring: Ring::new(),
            wide: [const { OnceLock::new() }; CHUNKS],
            map: Map::new(),
        }
    }

    /// A table for items of `kind`, visible to snapshots until it is
    /// [retired](IdRecords::retire). Tables are never freed, so a reference
    /// may be kept anywhere: see "# Never freed" in the registry's docs.
    pub(crate) fn registered(kind: &'static str) -> &'static IdRecords {
        let pooled = {
            let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
            let mine = pool.iter().position(|t| t.kind == kind);
            mine.map(|at| pool.swap_remove(at))
        };
        let table = pooled.unwrap_or_else(|| Box::leak(Box::new(IdRecords::new(kind))));
        TABLES.lock().unwrap_or_else(PoisonError::into_inner).push(table);
        table
    }

    /// Hides the table from snapshots, closes its items and pools it. No
    /// open may run at the same time or after: its owner is being dropped.
    pub(crate) fn retire(&'static self) {
        TABLES
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|t| !std::ptr::eq(*t, self));
        let closer = thread::number();
        self.ring.clear(|scope| counts::close(scope, closer));
        for chunk in self.wide.iter().filter_map(OnceLock::get) {
            chunk.clear(|scope| counts::close(scope, closer));
        }
        self.map.clear(|record| counts::close(record.scope, closer));
        POOL.lock().unwrap_or_else(PoisonError::into_inner).push(self);
    }

    /// Opens item `id` at `site` in `scope`, now: in the ring if its slot
    /// is free and there is no stack (a slot keeps no allocation), else in
    /// the map. An id opened again while open has a record in each (a
    /// third open replaces the map's); each close removes one.
    #[inline]
    pub(crate) fn insert(
        &self,
        id: u64,
        site: &'static Location<'static>,
        scope: ScopeId,
        stack: Option<Arc<Stack>>,
    ) {
        let (shard, thread) = thread::current();
        shard.note_id_open();
        let scope = counts::open(scope, thread);
        let opened = clock::recent_nanos();
        if stack.is_none() {
            let seen = Seen {
                id,
                scope,
                site,
                opened,
                thread,
                kind: "",
                number: None,
            };
            if self.ring.insert(&seen) || self.insert_wide(&seen) {
                return;
            }
        }
        self.insert_in_map(
            id,
            Record {
                kind: self.kind,
                site,
                opened,
                thread,
                scope,
                must_close: false,
                number: Some(Number::Id(id)),
                // No detail: the map clones records under its lock, which
                // must not allocate (see `map`'s "# Nothing allocates under
                // a shard's lock").
                detail: None,
                stack,
            },
        );
    }

    /// The chunk of the wide part that holds `id`'s slot, if allocated.
    #[inline]
    fn chunk(&self, id: u64) -> Option<&Ring<CHUNK>> {
        self.wide[(id / CHUNK as u64 % CHUNKS as u64) as usize]
            .get()
            .map(|chunk| &**chunk)
    }

    /// The wide part's share of [`insert`](Self::insert), out of line: the
    /// ring's callers reach it only when a slot is taken.
    #[inline(never)]
    fn insert_wide(&self, seen: &Seen) -> bool {
        let chunk = &self.wide[(seen.id / CHUNK as u64 % CHUNKS as u64) as usize];
        chunk.get_or_init(|| Box::new(Ring::sized())).insert(seen)
    }

    /// The map's part of [`insert`](Self::insert), out of line.
    #[inline(never)]
    fn insert_in_map(&self, id: u64, record: Record) {
        let thread = record.thread;
        if let Some(old) = self.map.insert(id, record) {
            counts::close(old.scope, thread);
        }
    }

    /// The scope of item `id`, if the table has it.
    #[inline]
    pub(crate) fn scope(&self, id: u64) -> Option<ScopeId> {
        self.ring.scope(id).or_else(|| self.scope_in_map(id))
    }

    /// [`scope`](Self::scope) behind the ring, out of line.
    #[inline(never)]
    fn scope_in_map(&self, id: u64) -> Option<ScopeId> {
        self.chunk(id)
            .and_then(|chunk| chunk.scope(id))
            .or_else(|| self.map.with(id, |record| record.scope))
    }

    /// Closes a record of item `id`; false if the table has none.
    #[inline]
    pub(crate) fn remove(&self, id: u64) -> bool {
        match self.ring.remove(id).or_else(|| self.remove_in_map(id)) {
            Some(scope) => {
                counts::close(scope, thread::number());
                true
            }
            None => false,
        }
    }

    /// [`remove`](Self::remove) behind the ring, out of line.
    #[inline(never)]
    fn remove_in_map(&self, id: u64) -> Option<ScopeId> {
        self.chunk(id)
            .and_then(|chunk| chunk.remove(id))
            .or_else(|| self.map.remove(id).map(|record| record.scope))
    }

    /// Calls `f` with every item's record.
    pub(crate) fn for_each(&self, f: &mut impl FnMut(&Record)) {
        let mut seen = |seen: &Seen| {
            f(&Record {
                kind: self.kind,
                number: Some(Number::Id(seen.id)),
                ..Record::from_ring(seen)
            });
        };
        self.ring.for_each(&mut seen);
        for chunk in self.wide.iter().filter_map(OnceLock::get) {
            chunk.for_each(&mut seen);
        }
        self.map.for_each(f);
    }
}

/// Every table in use now.
pub(crate) fn tables() -> Vec<&'static IdRecords> {
    TABLES.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

#[cfg(test)]
#[cfg(not(loom))]
mod tests {
    use std::panic::Location;

    use super::{IdRecords, tables};
    use crate::registry::ring::SLOTS;
    use crate::registry::{counts, scopes};
    use crate::scope_id::ScopeId;

    fn ids(table: &IdRecords) -> Vec<u64> {
        let mut ids = Vec::new();
        table.for_each(&mut |r| {
            assert_eq!(r.kind, "task");
            ids.push(r.id().unwrap());
        });
        ids.sort_unstable();
        ids
    }

    fn scope() -> ScopeId {
        scopes::create(ScopeId::NONE)
    }

    #[test]
    fn items_whose_slot_is_taken_go_to_the_wide_part_then_the_map() {
        let (a, b) = (scope(), scope());
        let table = IdRecords::new("task");
        let site = Location::caller();
        // 5 takes its ring slot; `wide` finds it taken and goes to the wide
        // part, as does 5 opened again; `in_map` then finds its slots in
        // both taken.
        let wide = 5 + SLOTS as u64;
        let in_map = 5 + (super::CHUNK * super::CHUNKS) as u64;
        table.insert(5, site, a, None);
        table.insert(wide, site, b, None);
        table.insert(5, site, b, None); // opened twice: recorded twice
        table.insert(in_map, site, b, None);
        assert_eq!([5, wide, in_map].map(|id| table.scope(id)), [Some(a), Some(b), Some(b)]);
        assert!(!counts::quiet(&[a]) && !counts::quiet(&[b]));
        assert_eq!(ids(&table), [5, 5, wide, in_map]);
        assert_eq!(table.ring.scope(wide), None);
        assert_eq!(table.chunk(wide).and_then(|c| c.scope(wide)), Some(b));
        assert_eq!(table.map.with(in_map, |r| r.scope), Some(b));

        for id in [5, 5, wide, in_map] {
            assert!(table.remove(id), "item {id}");
        }
        assert_eq!(table.scope(5), None);
        assert!(!table.remove(5));
        assert!(counts::quiet(&[a, b]));
        assert!(ids(&table).is_empty());
    }

    #[cfg(feature = "stacks")]
    #[test]
    fn items_with_a_stack_keep_it() {
        let table = IdRecords::new("task");
        let stack = crate::stack::capture();
        let addresses = stack.as_ref().map(|s| s.addresses().to_vec());
        assert!(addresses.is_some(), "a stacks build captures");
        table.insert(9, Location::caller(), scope(), stack);
        let mut stacks = Vec::new();
        table.for_each(&mut |r| stacks.push(r.stack.as_ref().map(|s| s.addresses().to_vec())));
        assert_eq!(stacks, [addresses]);
        assert!(table.remove(9));
    }

    #[test]
    fn an_id_used_again_is_the_new_items() {
        let (first, second, holder) = (scope(), scope(), scope());
        let table = IdRecords::new("task");
        let site = Location::caller();
        // Item 4 holds its ring slot, so `4 + SLOTS` lives behind it.
        table.insert(4, site, holder, None);
        for id in [3, 4 + SLOTS as u64] {
            table.insert(id, site, first, None);
            assert_eq!(table.scope(id), Some(first));
            assert!(table.remove(id));
            table.insert(id, site, second, None);
            assert_eq!(table.scope(id), Some(second), "id {id} used again");
            assert!(table.remove(id));
        }
        assert!(table.remove(4));
        assert!(counts::quiet(&[first, second, holder]));
    }

    #[test]
    fn retired_tables_are_hidden_emptied_and_used_again_for_their_kind() {
        let scope = scope();
        let kind = "retire-test";
        let table = IdRecords::registered(kind);
        assert!(tables().iter().any(|t| std::ptr::eq(*t, table)));
        table.insert(1, Location::caller(), scope, None);
        table.insert(1 + SLOTS as u64, Location::caller(), scope, None);
        assert!(!counts::quiet(&[scope]));

        table.retire();
        assert!(tables().iter().all(|t| !std::ptr::eq(*t, table)));
        assert_eq!((table.scope(1), table.scope(1 + SLOTS as u64)), (None, None));
        assert!(counts::quiet(&[scope]), "retiring closes the items");

        let other_kind = IdRecords::registered("retire-test-other");
        assert!(!std::ptr::eq(other_kind, table), "pooled for its own kind only");
        let again = IdRecords::registered(kind);
        assert!(std::ptr::eq(again, table), "the pooled table is used again");
        assert!(ids(again).is_empty());
        assert!(tables().iter().any(|t| std::ptr::eq(*t, again)));
        again.retire();
        other_kind.retire();
    }
}
