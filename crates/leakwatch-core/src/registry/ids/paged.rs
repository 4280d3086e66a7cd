//! The locked back of an id table, for items the rings have no slot for.
//!
//! Items with a stack, and items whose slots in the ring and in the wide
//! part are both taken (by long-lived items, or with more items alive at
//! once than the wide part has slots), come here. Ids are handed out by one
//! counter and never reused, so the table is paged by id: item `id` has its
//! own slot in the page that covers it, found with a compare (the newest
//! page, or the older one that removals are emptying) or one small map
//! lookup and an index, and items opened one after another sit side by side
//! in memory. The [`SHARDS`] locks split consecutive ids, so
//! threads touching neighbouring items rarely wait for each other. Each
//! shard keeps per-scope counts, as a registry shard does, so a check of a
//! clean scope reads counters, not records, and a count of its items that
//! lookups read without the lock, so ids that are not here cost no lock.
//! A page is freed when its last item closes.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use spin::mutex::SpinMutex;
use spin::relax::Yield;

use std::panic::Location;

use super::super::counts::{ScopeCounts, Tally};
use crate::scope::ScopeId;
use crate::stack::Stack;

/// Locks, so the worker threads of a runtime rarely wait for each other.
const SHARDS: usize = 32;
/// Slots per page: a page covers `SHARDS * PAGE` consecutive ids and takes
/// 648 bytes (small enough for the allocator's per-thread cache), the most
/// a long-lived item can keep alive on its own.
const PAGE: usize = 16;
const _: () = assert!(std::mem::size_of::<Page>() <= 1032, "a page fits glibc's tcache");
/// Emptied pages kept per shard, to spare allocations.
const SPARE: usize = 4;

/// Records by id, behind locks.
#[derive(Debug, Default)]
pub(super) struct Paged {
    shards: [Locked; SHARDS],
}

/// Cache lines of its own (two: x86 fetches lines in pairs), so workers
/// locking neighbouring shards, and readers of the table's other fields,
/// do not take lines from each other.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Locked {
    /// Items in `shard`, written under its lock, read without it.
    live: AtomicUsize,
    /// Removals from `shard` so far (wrapping), written under its lock,
    /// read without it: how busy the table is, for the clock thread.
    removals: AtomicU64,
    shard: SpinMutex<Shard, Yield>,
}

/// What a table keeps of an item: a `Record` without what every item of
/// a table shares (its kind) or what its slot tells (its id), half the size.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) site: &'static Location<'static>,
    pub(crate) opened: u64,
    pub(crate) scope: ScopeId,
    pub(crate) thread: u32,
    pub(crate) stack: Option<Box<Stack>>,
}

#[derive(Debug, Default)]
struct Shard {
    /// The page of the newest ids, where most opens and lookups land.
    hot: Option<(u64, Box<Page>)>,
    /// The older page a removal last found: items close roughly in the
    /// order they opened, so the next removals land in it too, and the map
    /// is searched once per page, not once per item.
    warm: Option<(u64, Box<Page>)>,
    /// Older pages that still hold records.
    cold: HashMap<u64, Box<Page>, BuildHasherDefault<IdHasher>>,
    #[allow(
        clippy::vec_box,
        reason = "pages move between here, `hot`, `warm` and `cold`: boxed, a move copies a pointer"
    )]
    spare: Vec<Box<Page>>,
    /// Live records per scope, for checks of clean scopes.
    counts: ScopeCounts,
}

#[derive(Debug, Default)]
struct Page {
    /// Entries in `slots`.
    live: usize,
    slots: [Option<Entry>; PAGE],
}

impl Paged {
    /// Adds item `id`, replacing any it had. Out of line: the ring's
    /// callers reach it only when a slot is taken.
    #[inline(never)]
    pub(super) fn insert(&self, id: u64, entry: Entry) {
        let (n, number, slot) = place(id);
        let locked = &self.shards[n];
        let mut shard = locked.shard.lock();
        let page = match shard.page(number) {
            Some(page) => page,
            None => shard.add_page(number),
        };
        let slot = &mut page.slots[slot];
        let old = slot.take().map(|old| old.scope);
        let scope = slot.insert(entry).scope;
        if old.is_none() {
            page.live += 1;
            locked.live.store(locked.live.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        }
        shard.counts.add(scope);
        if let Some(old) = old {
            shard.counts.sub(old);
        }
    }

    /// Where item `id` would be, if its shard holds anything: read
    /// without the lock, so ids the table does not have cost none.
    #[inline]
    fn may_hold(&self, id: u64) -> Option<(usize, u64, usize)> {
        let (n, number, slot) = place(id);
        (self.shards[n].live.load(Ordering::Relaxed) != 0).then_some((n, number, slot))
    }

    /// The scope of item `id`, if the table has it.
    #[inline]
    pub(super) fn scope(&self, id: u64) -> Option<ScopeId> {
        let (n, number, slot) = self.may_hold(id)?;
        self.scope_locked(n, number, slot)
    }

    /// [`scope`](Self::scope) once the shard may hold the item: out of
    /// line, so the lock-free callers' fast paths stay small.
    #[inline(never)]
    fn scope_locked(&self, n: usize, number: u64, slot: usize) -> Option<ScopeId> {
        let mut shard = self.shards[n].shard.lock();
        let entry = shard.page(number)?.slots[slot].as_ref()?;
        Some(entry.scope)
    }

    /// Removes item `id`'s record; false if the table has none.
    #[inline]
    pub(super) fn remove(&self, id: u64) -> bool {
        self.may_hold(id)
            .is_some_and(|(n, number, slot)| self.remove_locked(n, number, slot))
    }

    /// [`remove`](Self::remove) once the shard may hold the item: out of
    /// line, as [`scope_locked`](Self::scope_locked) is.
    #[inline(never)]
    fn remove_locked(&self, n: usize, number: u64, slot: usize) -> bool {
        let locked = &self.shards[n];
        let mut shard = locked.shard.lock();
        let hot = shard.hot.as_ref().is_some_and(|(hot, _)| *hot == number);
        let Some(page) = shard.page_to_empty(number) else {
            return false;
        };
        // The entry is dropped in place, not moved out.
        let slot = &mut page.slots[slot];
        let Some(scope) = slot.as_ref().map(|entry| entry.scope) else {
            return false;
        };
        *slot = None;
        page.live -= 1;
        locked.live.store(locked.live.load(Ordering::Relaxed) - 1, Ordering::Relaxed);
        let removals = locked.removals.load(Ordering::Relaxed).wrapping_add(1);
        locked.removals.store(removals, Ordering::Relaxed);
        let emptied = page.live == 0;
        shard.counts.sub(scope);
        // An empty hot page stays: the next ids may land in it. Any other
        // emptied page is the warm one.
        if emptied
            && !hot
            && let Some((_, page)) = shard.warm.take()
        {
            shard.keep_spare(page);
        }
        true
    }

    /// Removals so far (wrapping), read without the locks: how busy the
    /// table is (see [`ids::activity`](super::activity)).
    pub(super) fn removals(&self) -> u64 {
        let shards = self.shards.iter();
        shards.map(|s| s.removals.load(Ordering::Relaxed)).fold(0, u64::wrapping_add)
    }

    /// Removes every record, counting each as a removal.
    pub(super) fn clear(&self) {
        for locked in &self.shards {
            let mut shard = locked.shard.lock();
            let shard = &mut *shard;
            let near = [shard.hot.take(), shard.warm.take()];
            let cold = shard.cold.drain();
            for (_, mut page) in near.into_iter().flatten().chain(cold) {
                for entry in page.slots.iter_mut().filter_map(Option::take) {
                    shard.counts.sub(entry.scope);
                }
                page.live = 0;
                if shard.spare.len() < SPARE {
                    shard.spare.push(page);
                }
            }
            locked.live.store(0, Ordering::Relaxed);
        }
    }

    /// What this table holds of `scopes`.
    pub(super) fn tally(&self, scopes: &[ScopeId]) -> Tally {
        let mut tally = Tally::default();
        for locked in &self.shards {
            tally += locked.shard.lock().counts.tally(scopes);
        }
        tally
    }

    /// Calls `f` with every item's id and entry, shard by shard.
    pub(super) fn for_each(&self, f: &mut impl FnMut(u64, &Entry)) {
        for (n, locked) in self.shards.iter().enumerate() {
            let shard = locked.shard.lock();
            let near = shard.hot.iter().chain(&shard.warm);
            let near = near.map(|(number, page)| (number, page));
            for (&number, page) in near.chain(shard.cold.iter()) {
                for (slot, entry) in page.slots.iter().enumerate() {
                    if let Some(entry) = entry {
                        f(id_at(n, number, slot), entry);
                    }
                }
            }
        }
    }

    #[cfg(test)]
    fn pages(&self) -> usize {
        let live = |p: &Option<(u64, Box<Page>)>| p.as_ref().is_some_and(|(_, page)| page.live > 0);
        self.shards
            .iter()
            .map(|s| {
                let s = s.shard.lock();
                s.cold.len() + usize::from(live(&s.hot)) + usize::from(live(&s.warm))
            })
            .sum()
    }
}

impl Shard {
    /// Page `number`, if it exists.
    #[inline]
    fn page(&mut self, number: u64) -> Option<&mut Page> {
        match (&mut self.hot, &mut self.warm) {
            (Some((hot, page)), _) if *hot == number => Some(page),
            (_, Some((warm, page))) if *warm == number => Some(page),
            _ => self.cold.get_mut(&number).map(|page| &mut **page),
        }
    }

    /// [`page`](Self::page), for a removal: a page found in the map becomes
    /// the warm one (the warm one going back to the map), so the removals
    /// after this one find it without a search.
    #[inline]
    fn page_to_empty(&mut self, number: u64) -> Option<&mut Page> {
        let near = |p: &Option<(u64, Box<Page>)>| p.as_ref().is_some_and(|(n, _)| *n == number);
        if !near(&self.hot) && !near(&self.warm) {
            let page = self.cold.remove(&number)?;
            if let Some((old, old_page)) = self.warm.replace((number, page)) {
                self.cold.insert(old, old_page);
            }
        }
        self.page(number)
    }

    /// Makes page `number`, which does not exist. A page for newer ids than
    /// the hot one becomes the hot one.
    fn add_page(&mut self, number: u64) -> &mut Page {
        let page = self.spare.pop().unwrap_or_default();
        if self.hot.as_ref().is_some_and(|(hot, _)| *hot > number) {
            return self.cold.entry(number).or_insert(page);
        }
        if let Some((old, old_page)) = self.hot.take() {
            if old_page.live == 0 {
                self.keep_spare(old_page);
            } else {
                self.cold.insert(old, old_page);
            }
        }
        &mut self.hot.insert((number, page)).1
    }

    fn keep_spare(&mut self, page: Box<Page>) {
        if self.spare.len() < SPARE {
            self.spare.push(page);
        }
    }
}

/// The shard, page and slot of item `id`: consecutive ids go to consecutive
/// shards, then to consecutive slots of one page.
#[inline]
fn place(id: u64) -> (usize, u64, usize) {
    let shard = (id % SHARDS as u64) as usize;
    let in_shard = id / SHARDS as u64;
    (
        shard,
        in_shard / PAGE as u64,
        (in_shard % PAGE as u64) as usize,
    )
}

/// The id in `slot` of page `number` of shard `shard`: [`place`] undone.
#[inline]
fn id_at(shard: usize, number: u64, slot: usize) -> u64 {
    (number * PAGE as u64 + slot as u64) * SHARDS as u64 + shard as u64
}

/// Page numbers are sequential: no need for SipHash in the page map.
#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::panic::Location;

    use super::{Entry, PAGE, Paged, SHARDS, id_at, place};
    use crate::scope::ScopeId;

    /// An entry of `scope` at a fixed site, for tests of what keeps entries.
    pub(crate) fn entry(scope: ScopeId) -> Entry {
        Entry {
            site: Location::caller(),
            opened: 0,
            thread: 0,
            scope,
            stack: None,
        }
    }

    #[test]
    fn places_and_ids_are_inverse() {
        for id in [0, 1, 31, 32, 511, 512, 513, 1 << 40, u64::MAX / 2] {
            let (shard, number, slot) = place(id);
            assert_eq!(id_at(shard, number, slot), id);
        }
    }

    #[test]
    fn finds_and_removes_items_by_id() {
        let (a, b) = (ScopeId::for_tests(1_001), ScopeId::for_tests(1_002));
        let table = Paged::default();
        let far = 1 << 40;
        table.insert(7, entry(a));
        table.insert(8, entry(b));
        table.insert(far, entry(b));
        assert_eq!(table.scope(7), Some(a));
        assert_eq!(table.scope(8), Some(b));
        assert_eq!(table.scope(far), Some(b));
        assert_eq!(table.scope(9), None, "same page, no item");
        assert_eq!(table.scope(far + 1), None, "no page");
        assert_eq!((table.tally(&[a]).open, table.tally(&[b]).open), (1, 2));

        assert!(table.remove(7));
        assert_eq!(table.scope(7), None);
        assert!(!table.remove(7), "removed already");
        assert!(!table.remove(9), "never there");
        assert_eq!(table.tally(&[a]).open, 0);
        assert_eq!(table.tally(&[a]).removed, 1, "removals are counted for checks");
        assert!(table.remove(far));
        assert!(table.remove(8));
        assert_eq!(table.pages(), 0, "empty pages are freed");
    }

    #[test]
    fn holds_many_items_alive_at_once() {
        let scope = ScopeId::for_tests(1_003);
        let table = Paged::default();
        let ids: Vec<u64> = (1..=10_000).collect();
        for &id in &ids {
            table.insert(id, entry(scope));
        }
        assert_eq!(table.pages(), 10_000usize.div_ceil(SHARDS * PAGE) * SHARDS);
        assert!(ids.iter().all(|&id| table.scope(id) == Some(scope)));
        let mut seen = Vec::new();
        table.for_each(&mut |id, entry| {
            assert_eq!(entry.scope, scope);
            seen.push(id);
        });
        seen.sort_unstable();
        assert_eq!(seen, ids, "every record is walked once");
        // Every other one ends, then the rest, in reverse.
        for &id in ids.iter().step_by(2) {
            assert!(table.remove(id), "item {id}");
        }
        assert!(ids.iter().all(|&id| table.scope(id).is_some() == (id % 2 == 0)));
        assert_eq!(table.tally(&[scope]).open, 5_000);
        for &id in ids.iter().rev().filter(|&&id| id % 2 == 0) {
            assert!(table.remove(id), "item {id}");
        }
        assert_eq!(table.pages(), 0);
        assert_eq!(table.tally(&[scope]).open, 0);
    }

    #[test]
    fn items_closing_in_the_order_they_opened_free_their_pages_one_by_one() {
        let scope = ScopeId::for_tests(1_006);
        let table = Paged::default();
        let per_page = SHARDS * PAGE;
        let ids: Vec<u64> = (0..4 * per_page as u64).collect();
        for &id in &ids {
            table.insert(id, entry(scope));
        }
        assert_eq!(table.pages(), 4 * SHARDS);
        // Half of the oldest pages' items close: those pages are now each
        // shard's warm one, and their other items are still there.
        let (first, rest) = ids.split_at(per_page / 2);
        for &id in first {
            assert!(table.remove(id), "item {id}");
        }
        assert_eq!(table.removals(), first.len() as u64);
        assert_eq!(table.pages(), 4 * SHARDS);
        let mut seen = Vec::new();
        table.for_each(&mut |id, _| seen.push(id));
        seen.sort_unstable();
        assert_eq!(seen, rest, "warm pages are walked");
        // Two old pages of one shard, by turns: each removal moves the other
        // page back to the map.
        let (a, b) = (per_page as u64 * 2 + 5, per_page as u64 + 5);
        for step in 0..PAGE as u64 {
            let turn = step * SHARDS as u64;
            assert!(table.remove(a + turn) && table.remove(b + turn), "step {step}");
        }
        assert_eq!(table.pages(), 4 * SHARDS - 2, "both pages freed");
        let in_page = |first: u64, id: u64| (first..first + per_page as u64).contains(&id);
        let of_shard = |first: u64, id: u64| id % SHARDS as u64 == first % SHARDS as u64;
        for &id in rest {
            let gone = [a, b].iter().any(|&first| in_page(first, id) && of_shard(first, id));
            assert_eq!(table.remove(id), !gone, "item {id}");
        }
        assert_eq!((table.pages(), table.tally(&[scope]).open), (0, 0));
        assert_eq!(table.removals(), ids.len() as u64);
    }

    #[test]
    fn a_second_insert_of_one_id_replaces_the_first() {
        let (a, b) = (ScopeId::for_tests(1_004), ScopeId::for_tests(1_005));
        let table = Paged::default();
        table.insert(3, entry(a));
        table.insert(3, entry(b));
        assert_eq!(table.scope(3), Some(b));
        assert_eq!((table.tally(&[a]).open, table.tally(&[b]).open), (0, 1));
        assert!(table.remove(3));
        assert_eq!(table.tally(&[a, b]).open, 0);
    }
}
