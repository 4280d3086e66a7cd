//! A lock-free table with one slot per key modulo its size.
//!
//! Short-lived items (a server's tasks, a hundred alive at a time; the
//! files and sockets a request opens) have keys close together, so nearly
//! every one finds its slot free: opening it is a few plain stores (and a
//! compare-exchange where several threads open in one ring), looking it up
//! a few plain loads, closing it two plain stores. No lock is taken and
//! nothing is allocated. A key whose slot is taken (by a long-lived item, or
//! when many are alive at once) goes elsewhere: to a larger ring (an id
//! table's wide part, whose chunks are rings too) or a locked table.
//!
//! Two kinds of rings use this. An id table's ring (see [`ids`](super::ids))
//! is keyed by task id, and any thread opens in it: tokio's hooks track
//! every task of a runtime this way. A thread's [`Shard`](super::Shard) has a
//! ring of its own, keyed by a count of the thread's opens, where only that
//! thread opens: every plain `Tag` (a kind and a site, nothing else) lives
//! there, so a tracked task or file costs no lock at all.
//!
//! A slot's `state` says what it holds: [`FREE`], [`WRITING`] (an open is
//! filling it in) or the key of its live item plus one. Its other fields are
//! written only by the thread that moved it from `FREE` to `WRITING`, and
//! readers check `state` again after reading them, as a seqlock's readers
//! do, so they never take fields of one item for another's. The exception
//! is the item's number (a task id), which the item's owner may set while it
//! is live: see [`Ring::set_number`]. Each slot also counts the removals it
//! saw, so a check that reads the ring twice knows whether anything closed
//! in between (see [`registry::quiet`](super::quiet)).

use std::panic::Location;
use crate::sync::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence};

use super::counts::Tally;
use crate::scope::ScopeId;

/// Slots per ring: a few hundred short tasks alive at once fit without
/// collisions, and a check reads the whole ring in about a microsecond.
pub(in crate::registry) const SLOTS: usize = 256;

/// A slot with nothing in it.
const FREE: u64 = 0;
/// A slot being filled in by an open.
const WRITING: u64 = u64::MAX;
/// Ids from here on do not fit a slot's state (`id + 1` must be neither
/// [`FREE`] nor [`WRITING`]); they go to a locked table.
const TOO_BIG: u64 = u64::MAX - 1;

/// `N` slots indexed by id modulo `N`: [`SLOTS`] for a thread's ring and an
/// id table's first one, more for the chunks of an id table's
/// [`wide`](super::ids) part.
#[derive(Debug)]
pub(in crate::registry) struct Ring<const N: usize = SLOTS> {
    slots: Box<[Slot; N]>,
}

/// A cache line each: on a multi-thread runtime a task is opened on one
/// core and closed on another, and neighbouring ids are on different cores
/// at once.
#[derive(Debug)]
#[repr(align(64))]
struct Slot {
    /// [`FREE`], [`WRITING`] or the live item's key plus one.
    state: AtomicU64,
    scope: AtomicU64,
    /// Always made from a `&'static Location<'static>` (a placeholder one
    /// until the slot is first filled).
    site: AtomicPtr<Location<'static>>,
    opened: AtomicU64,
    /// The item's number, if [`HAS_NUMBER`] is set in `kind_len`.
    number: AtomicU64,
    /// With `kind_len`, always made from one `&'static str` (`""` until a
    /// thread's own ring fills the slot; id tables keep their kind
    /// themselves and leave both as they are).
    kind_ptr: AtomicPtr<u8>,
    /// The kind's length, and [`HAS_NUMBER`].
    kind_len: AtomicUsize,
    thread: AtomicU32,
    /// Removals from this slot so far (wrapping).
    removals: AtomicU32,
}

/// Set in a slot's `kind_len` once its item has a number.
const HAS_NUMBER: usize = 1 << (usize::BITS - 1);

/// An item as an open gives it, or as a reader took it from a live slot.
#[derive(Clone, Copy, Debug)]
pub(in crate::registry) struct Seen {
    /// The item's key: a task id in an id table, the count of the
    /// thread's opens in a thread's own ring.
    pub(in crate::registry) id: u64,
    pub(in crate::registry) scope: ScopeId,
    pub(in crate::registry) site: &'static Location<'static>,
    pub(in crate::registry) opened: u64,
    pub(in crate::registry) thread: u32,
    /// What [`Ring::insert_owned`] was given (`""` in an id table).
    pub(in crate::registry) kind: &'static str,
    /// What [`Ring::set_number`] set, if anything.
    pub(in crate::registry) number: Option<u64>,
}

impl Seen {
    /// A plain item (a kind and a site) for a thread's own ring, whose
    /// insert gives it its key.
    #[inline(always)]
    pub(in crate::registry) fn plain(
        kind: &'static str,
        site: &'static Location<'static>,
        scope: ScopeId,
        opened: u64,
        thread: u32,
    ) -> Seen {
        Seen {
            id: 0,
            scope,
            site,
            opened,
            thread,
            kind,
            number: None,
        }
    }
}

impl Ring {
    pub(in crate::registry) fn new() -> Ring {
        Ring::sized()
    }
}

impl<const N: usize> Ring<N> {
    /// A ring of `N` free slots.
    pub(in crate::registry) fn sized() -> Ring<N> {
        let placeholder: *const Location<'static> = Location::caller();
        let slot = || Slot {
            state: AtomicU64::new(FREE),
            scope: AtomicU64::new(0),
            site: AtomicPtr::new(placeholder.cast_mut()),
            opened: AtomicU64::new(0),
            number: AtomicU64::new(0),
            kind_ptr: AtomicPtr::new("".as_ptr().cast_mut()),
            kind_len: AtomicUsize::new(0),
            thread: AtomicU32::new(0),
            removals: AtomicU32::new(0),
        };
        // Built on the heap: a chunk's slots would not fit a worker's stack.
        let slots: Box<[Slot]> = (0..N).map(|_| slot()).collect();
        let Ok(slots) = slots.try_into() else {
            unreachable!("{N} slots were made")
        };
        Ring { slots }
    }

    #[inline]
    fn slot(&self, id: u64) -> &Slot {
        &self.slots[(id % N as u64) as usize]
    }

    /// Records item `seen.id` in its slot if the slot is free; false if it
    /// is not (or the id is too big for a slot), for the caller to put
    /// elsewhere.
    #[inline]
    pub(in crate::registry) fn insert(&self, seen: &Seen) -> bool {
        self.insert_counted(seen, || {})
    }

    /// [`Ring::insert`], calling `count` once the slot is claimed and
    /// before the item can be found: an open counted elsewhere is then
    /// counted before anyone can close the item.
    #[inline]
    pub(in crate::registry) fn insert_counted(&self, seen: &Seen, count: impl FnOnce()) -> bool {
        let id = seen.id;
        if id >= TOO_BIG {
            return false;
        }
        let slot = self.slot(id);
        // A plain load first: with many items alive most slots are taken,
        // and a failed compare-exchange costs as much as one that succeeds.
        if slot.state.load(Ordering::Relaxed) != FREE
            || slot
                .state
                .compare_exchange(FREE, WRITING, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return false;
        }
        slot.fill(seen);
        count();
        slot.state.store(id + 1, Ordering::Release);
        true
    }

    /// [`Ring::insert`] for a ring only one thread opens in (a thread's own),
    /// which needs no compare-exchange: nobody else changes a free slot.
    /// Records `seen.kind` too, with no number.
    #[inline]
    pub(in crate::registry) fn insert_owned(&self, seen: &Seen) -> bool {
        let id = seen.id;
        let slot = self.slot(id);
        // Acquire: the closer of the slot's last item counted its removal
        // before freeing it; the next closer, acquiring this open, sees it.
        if id >= TOO_BIG || slot.state.load(Ordering::Acquire) != FREE {
            return false;
        }
        slot.state.store(WRITING, Ordering::Relaxed);
        slot.fill(seen);
        slot.kind_ptr.store(seen.kind.as_ptr().cast_mut(), Ordering::Relaxed);
        slot.kind_len.store(seen.kind.len(), Ordering::Relaxed);
        slot.state.store(id + 1, Ordering::Release);
        true
    }

    /// Gives live item `id` its number; false if its slot does not hold it.
    ///
    /// Only for a thread's own ring, and only while the slot cannot be
    /// filled again under the call: by the item's holder (the item is live
    /// throughout), or by the ring's own thread (the only one that fills
    /// slots). Keys are never used twice, so a slot holding `id` holds this
    /// very item; if it closes during the call, the number lands in a free
    /// slot, which the next open overwrites.
    #[inline]
    pub(in crate::registry) fn set_number(&self, id: u64, number: u64) -> bool {
        let slot = self.slot(id);
        if id >= TOO_BIG || slot.state.load(Ordering::Acquire) != id + 1 {
            return false;
        }
        let len = slot.kind_len.load(Ordering::Relaxed);
        slot.number.store(number, Ordering::Relaxed);
        // Release: a reader that sees the flag sees the number.
        slot.kind_len.store(len | HAS_NUMBER, Ordering::Release);
        true
    }

    /// The scope of item `id`, if its slot holds it.
    #[inline]
    pub(in crate::registry) fn scope(&self, id: u64) -> Option<ScopeId> {
        let slot = self.slot(id);
        let live = id.wrapping_add(1);
        if id >= TOO_BIG || slot.state.load(Ordering::Acquire) != live {
            return None;
        }
        let scope = slot.scope.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        (slot.state.load(Ordering::Relaxed) == live).then_some(ScopeId::from_raw(scope))
    }

    /// Removes item `id` if its slot holds it; false if not.
    #[inline]
    pub(in crate::registry) fn remove(&self, id: u64) -> bool {
        self.remove_counted(id, |_| {})
    }

    /// [`Ring::remove`], calling `count` with the item's scope once the
    /// item is found and before it leaves its slot: a removal counted
    /// elsewhere must be visible no later than the item's absence, or a
    /// check could miss both.
    #[inline]
    pub(in crate::registry) fn remove_counted(&self, id: u64, count: impl FnOnce(ScopeId)) -> bool {
        let slot = self.slot(id);
        let live = id.wrapping_add(1);
        // Acquire: see the removals counted by the slot's earlier closers,
        // and the item's fields.
        if id >= TOO_BIG || slot.state.load(Ordering::Acquire) != live {
            return false;
        }
        count(ScopeId::from_raw(slot.scope.load(Ordering::Relaxed)));
        // Only the closer of this very id changes a slot that holds it (ids
        // are unique while open, and an opener claims only a free slot), so
        // plain stores do, with no compare-exchange. The removal is counted
        // before the slot is freed (the release store publishes it): a
        // check that sees the slot free or refilled sees the count.
        let removals = slot.removals.load(Ordering::Relaxed);
        slot.removals.store(removals.wrapping_add(1), Ordering::Relaxed);
        slot.state.store(FREE, Ordering::Release);
        true
    }

    /// Removes every item, counting each as a removal. No open may run at
    /// the same time (the table is being retired).
    pub(in crate::registry) fn clear(&self) {
        self.clear_counted(|_| {});
    }

    /// [`Ring::clear`], counting each removal as
    /// [`Ring::remove_counted`] does.
    pub(in crate::registry) fn clear_counted(&self, mut count: impl FnMut(ScopeId)) {
        for slot in self.slots.iter() {
            let state = slot.state.load(Ordering::Relaxed);
            if state != FREE {
                let _ = self.remove_counted(state - 1, &mut count);
            }
        }
    }

    /// An estimate of the removals from all slots so far (wrapping), from
    /// a few slots spread over the ring: ids come in sequence, so each slot
    /// sees its share of them. Reading every slot would pull each line
    /// away from the core that is about to write it again.
    pub(in crate::registry) fn removals_estimate(&self) -> u64 {
        const SAMPLES: usize = 4;
        (0..SAMPLES)
            .map(|n| u64::from(self.slots[n * N / SAMPLES].removals.load(Ordering::Relaxed)))
            .fold(0, u64::wrapping_add)
            .wrapping_mul((N / SAMPLES) as u64)
    }

    /// What the ring holds of `scopes`.
    pub(in crate::registry) fn tally(&self, scopes: &[ScopeId]) -> Tally {
        let mut tally = Tally::default();
        for slot in self.slots.iter() {
            let (seen, removals) = slot.read();
            let open = seen.is_some_and(|seen| scopes.contains(&seen.scope));
            tally += Tally {
                open: u64::from(open),
                removed: u64::from(removals),
            };
        }
        tally
    }

    /// Calls `f` with every live item.
    pub(in crate::registry) fn for_each(&self, f: &mut impl FnMut(&Seen)) {
        for slot in self.slots.iter() {
            if let (Some(seen), _) = slot.read() {
                f(&seen);
            }
        }
    }
}

impl Slot {
    /// Writes the fields of an item in a slot just claimed (`WRITING`).
    #[inline(always)]
    fn fill(&self, seen: &Seen) {
        // Orders the claim before the fields: a reader that sees any of
        // them sees `WRITING` (or later) when it checks `state` again.
        fence(Ordering::Release);
        let site: *const Location<'static> = seen.site;
        self.scope.store(seen.scope.as_u64(), Ordering::Relaxed);
        self.site.store(site.cast_mut(), Ordering::Relaxed);
        self.opened.store(seen.opened, Ordering::Relaxed);
        self.thread.store(seen.thread, Ordering::Relaxed);
    }

    /// The slot's item, if it holds one, and its count of removals: read
    /// again until no open or close changed the slot while it was read.
    fn read(&self) -> (Option<Seen>, u32) {
        loop {
            let state = self.state.load(Ordering::Acquire);
            let removals = self.removals.load(Ordering::Relaxed);
            if state == FREE || state == WRITING {
                return (None, removals);
            }
            let scope = self.scope.load(Ordering::Relaxed);
            let site = self.site.load(Ordering::Relaxed);
            let opened = self.opened.load(Ordering::Relaxed);
            let thread = self.thread.load(Ordering::Relaxed);
            let kind_ptr = self.kind_ptr.load(Ordering::Relaxed);
            // Acquire: with the number flag comes the number.
            let kind_len = self.kind_len.load(Ordering::Acquire);
            let number = self.number.load(Ordering::Relaxed);
            fence(Ordering::Acquire);
            if self.state.load(Ordering::Relaxed) != state {
                continue;
            }
            // SAFETY: every pointer ever stored in `site`, the initial one
            // included, was made from a `&'static Location<'static>`, which
            // lives for the whole program and is never written through; an
            // atomic load returns one of those stores whole.
            let site = unsafe { &*site };
            let len = kind_len & !HAS_NUMBER;
            // SAFETY: `kind_ptr` and the length in `kind_len` were stored
            // together from one `&'static str` by the open that filled the
            // slot (or are the initial `""`): `state` was the same before and
            // after they were read, so no other open wrote either in between
            // (`set_number` only sets the flag, masked off here). Such a
            // string lives for the whole program and is valid UTF-8.
            let kind = unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(kind_ptr, len)) };
            let seen = Seen {
                id: state - 1,
                scope: ScopeId::from_raw(scope),
                site,
                opened,
                thread,
                kind,
                number: (kind_len & HAS_NUMBER != 0).then_some(number),
            };
            return (Some(seen), removals);
        }
    }
}

#[cfg(test)]
pub(in crate::registry) mod tests {
    use std::panic::Location;
    use std::sync::Arc;

    use super::{Ring, SLOTS, Seen, TOO_BIG};
    use crate::scope::ScopeId;

    /// Item `id` of `scope`, as an id table's open gives it.
    pub(in crate::registry) fn seen(id: u64, scope: ScopeId) -> Seen {
        Seen {
            id,
            scope,
            site: Location::caller(),
            opened: 5,
            thread: 3,
            kind: "",
            number: None,
        }
    }

    #[test]
    fn opens_finds_and_closes_by_id() {
        let (a, b) = (ScopeId::for_tests(2_001), ScopeId::for_tests(2_002));
        let ring = Ring::new();
        assert!(ring.insert(&seen(7, a)));
        assert!(ring.insert(&seen(8, b)));
        assert_eq!((ring.scope(7), ring.scope(8), ring.scope(9)), (Some(a), Some(b), None));
        assert_eq!(ring.tally(&[a]).open, 1);
        assert_eq!(ring.tally(&[a, b]).open, 2);
        let mut items = Vec::new();
        ring.for_each(&mut |s| items.push((s.id, s.scope, s.site.line(), s.opened, s.thread)));
        let line = seen(0, a).site.line();
        assert_eq!(items, [(7, a, line, 5, 3), (8, b, line, 5, 3)]);

        let before = ring.tally(&[a]);
        assert!(ring.remove(7));
        assert!(!ring.remove(7), "closed already");
        assert_eq!(ring.scope(7), None);
        let after = ring.tally(&[a]);
        assert_eq!((after.open, after.removed), (0, before.removed + 1));
    }

    #[test]
    fn removals_are_estimated_from_a_few_slots() {
        let scope = ScopeId::for_tests(2_004);
        let ring = Ring::new();
        assert_eq!(ring.removals_estimate(), 0);
        for id in 0..4 * SLOTS as u64 {
            assert!(ring.insert(&seen(id, scope)));
            assert!(ring.remove(id));
        }
        assert_eq!(ring.removals_estimate(), 4 * SLOTS as u64, "sequential ids: exact");
        // Opens that stay open count nothing.
        assert!(ring.insert(&seen(0, scope)));
        assert_eq!(ring.removals_estimate(), 4 * SLOTS as u64);
        assert!(ring.remove(0));
    }

    #[test]
    fn a_taken_slot_or_a_huge_id_is_left_to_the_paged_table() {
        let scope = ScopeId::for_tests(2_003);
        let ring = Ring::new();
        assert!(ring.insert(&seen(1, scope)));
        assert!(!ring.insert(&seen(1 + SLOTS as u64, scope)), "same slot");
        assert!(!ring.insert(&seen(1, scope)), "same id, still open");
        assert!(!ring.remove(1 + SLOTS as u64), "not here");
        assert_eq!(ring.scope(1 + SLOTS as u64), None);
        for id in [TOO_BIG, u64::MAX] {
            assert!(!ring.insert(&seen(id, scope)));
            assert!(!ring.remove(id));
            assert_eq!(ring.scope(id), None);
        }
        assert!(ring.remove(1));
        assert!(ring.insert(&seen(1 + SLOTS as u64, scope)), "free again");
    }

    #[test]
    fn an_owned_ring_keeps_kinds_and_numbers() {
        let scope = ScopeId::for_tests(2_005);
        let ring = Ring::new();
        let file = Seen { kind: "file", ..seen(3, scope) };
        assert!(ring.insert_owned(&file));
        assert!(ring.insert_owned(&Seen { kind: "task", ..seen(4, scope) }));
        assert!(!ring.insert_owned(&seen(3 + SLOTS as u64, scope)), "taken");
        assert!(ring.set_number(4, 77));
        assert!(!ring.set_number(5, 1), "nothing there");
        let mut items = Vec::new();
        ring.for_each(&mut |s| items.push((s.id, s.kind, s.number)));
        assert_eq!(items, [(3, "file", None), (4, "task", Some(77))]);

        assert!(ring.remove(4));
        assert!(!ring.set_number(4, 78), "closed");
        // The next item in the slot starts with no number.
        assert!(ring.insert_owned(&Seen { kind: "tcp", ..seen(4 + SLOTS as u64, scope) }));
        let mut items = Vec::new();
        ring.for_each(&mut |s| items.push((s.id, s.kind, s.number)));
        assert_eq!(items, [(3, "file", None), (4 + SLOTS as u64, "tcp", None)]);
    }

    #[test]
    fn numbers_set_while_a_reader_reads_are_whole() {
        // The owner's thread opens items, sets each one's number and closes
        // it, while a reader checks that a number it sees is its item's.
        let ring = Arc::new(Ring::new());
        let owner = {
            let ring = ring.clone();
            std::thread::spawn(move || {
                for id in 0..50_000u64 {
                    let item = Seen { kind: "job", ..seen(id, ScopeId::for_tests(1)) };
                    assert!(ring.insert_owned(&item));
                    assert!(ring.set_number(id, id * 3));
                    assert!(ring.remove(id));
                }
            })
        };
        while !owner.is_finished() {
            ring.for_each(&mut |s| {
                assert_eq!(s.kind, "job");
                assert!(s.number.is_none_or(|n| n == s.id * 3), "{s:?}");
            });
        }
        owner.join().unwrap();
    }

    #[test]
    fn readers_never_mix_two_items_fields() {
        // Threads open and close items of their own scope in shared slots
        // while a reader checks that every item it sees is consistent.
        let ring = Arc::new(Ring::new());
        let writers: Vec<_> = (0..2u64)
            .map(|w| {
                let ring = ring.clone();
                std::thread::spawn(move || {
                    for n in 0..20_000u64 {
                        let id = n * 2 + w;
                        let mut item = seen(id, ScopeId::for_tests(10_000 + id));
                        item.opened = id;
                        if ring.insert(&item) {
                            assert_eq!(ring.scope(id), Some(item.scope));
                            assert!(ring.remove(id));
                        }
                    }
                })
            })
            .collect();
        while !writers.iter().all(|w| w.is_finished()) {
            ring.for_each(&mut |s| {
                assert_eq!(s.scope.as_u64(), 10_000 + s.id, "scope of {}", s.id);
                assert_eq!(s.opened, s.id);
            });
        }
        for w in writers {
            w.join().unwrap();
        }
        let mut left = 0;
        ring.for_each(&mut |_| left += 1);
        assert_eq!(left, 0);
    }
}

/// Models of a ring's slot under loom: `RUSTFLAGS="--cfg loom" cargo test
/// -p leakwatch-core --lib --release loom`.
#[cfg(all(test, loom))]
mod loom {
    use std::panic::Location;

    use loom::sync::Arc;
    use loom::thread;

    use super::{Ring, Seen};
    use crate::scope::ScopeId;

    fn item(id: u64, kind: &'static str) -> Seen {
        Seen {
            id,
            ..Seen::plain(kind, Location::caller(), ScopeId::from_raw(1), 0, 1)
        }
    }

    /// A number set on another thread than the ring's owner, while the
    /// item closes and the owner fills its slot with another item of
    /// another kind: the new item keeps its own kind, whole, and no number.
    #[test]
    fn a_late_number_never_lands_on_the_next_item() {
        loom::model(|| {
            let ring = Arc::new(Ring::<1>::sized());
            assert!(ring.insert_owned(&item(0, "file")));
            let setter = {
                let ring = ring.clone();
                thread::spawn(move || {
                    ring.set_number(0, 7);
                })
            };
            assert!(ring.remove(0));
            assert!(ring.insert_owned(&item(1, "ab")));
            setter.join().unwrap();
            let mut seen = Vec::new();
            ring.for_each(&mut |s| seen.push((s.id, s.kind.to_owned(), s.number)));
            assert_eq!(seen, [(1, "ab".to_owned(), None)]);
        });
    }
}
