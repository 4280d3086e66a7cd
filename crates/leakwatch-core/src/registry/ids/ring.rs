//! The lock-free front of an id table: one slot per id modulo its size.
//!
//! Short-lived items (a server's tasks, a hundred alive at a time) have ids
//! close together, so nearly every one finds its slot here free: opening it
//! is one compare-exchange and a few plain stores, looking it up a few plain
//! loads, closing it two plain stores. No lock is taken and nothing is
//! allocated, which is what lets tokio's task hooks track every task of a
//! runtime for a few nanoseconds each. An id whose slot is taken (by a
//! long-lived item, or when many are alive at once) goes to the paged table
//! behind the ring instead.
//!
//! A slot's `state` says what it holds: [`FREE`], [`WRITING`] (an open is
//! filling it in) or the id of its live item plus one. Its other fields are
//! written only by the thread that moved it from `FREE` to `WRITING`, and
//! readers check `state` again after reading them, as a seqlock's readers
//! do, so they never take fields of one item for another's. Each slot also
//! counts the removals it saw, so a check that reads the ring twice knows
//! whether anything closed in between (see [`registry::quiet`](super::super::quiet)).

use std::panic::Location;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering, fence};

use super::super::counts::Tally;
use crate::scope::ScopeId;

/// Slots per ring: a few hundred short tasks alive at once fit without
/// collisions, and a check reads the whole ring in well under a
/// microsecond.
pub(super) const SLOTS: usize = 256;

/// A slot with nothing in it.
const FREE: u64 = 0;
/// A slot being filled in by an open.
const WRITING: u64 = u64::MAX;
/// Ids from here on do not fit a slot's state (`id + 1` must be neither
/// [`FREE`] nor [`WRITING`]); they go to the paged table.
const TOO_BIG: u64 = u64::MAX - 1;

/// Slots indexed by id modulo [`SLOTS`].
#[derive(Debug)]
pub(super) struct Ring {
    slots: Box<[Slot; SLOTS]>,
}

/// A cache line each: on a multi-thread runtime a task is opened on one
/// core and closed on another, and neighbouring ids are on different cores
/// at once.
#[derive(Debug)]
#[repr(align(64))]
struct Slot {
    /// [`FREE`], [`WRITING`] or the live item's id plus one.
    state: AtomicU64,
    scope: AtomicU64,
    /// Always made from a `&'static Location<'static>` (a placeholder one
    /// until the slot is first filled).
    site: AtomicPtr<Location<'static>>,
    opened: AtomicU64,
    thread: AtomicU32,
    /// Removals from this slot so far (wrapping).
    removals: AtomicU32,
}

/// What a reader took from a live slot.
#[derive(Clone, Copy, Debug)]
pub(super) struct Seen {
    pub(super) id: u64,
    pub(super) scope: ScopeId,
    pub(super) site: &'static Location<'static>,
    pub(super) opened: u64,
    pub(super) thread: u32,
}

impl Ring {
    pub(super) fn new() -> Ring {
        let placeholder: *const Location<'static> = Location::caller();
        let slot = || Slot {
            state: AtomicU64::new(FREE),
            scope: AtomicU64::new(0),
            site: AtomicPtr::new(placeholder.cast_mut()),
            opened: AtomicU64::new(0),
            thread: AtomicU32::new(0),
            removals: AtomicU32::new(0),
        };
        Ring {
            slots: Box::new(std::array::from_fn(|_| slot())),
        }
    }

    #[inline]
    fn slot(&self, id: u64) -> &Slot {
        &self.slots[(id % SLOTS as u64) as usize]
    }

    /// Records item `seen.id` in its slot if the slot is free; false if it
    /// is not (or the id is too big for a slot), for the paged table to take.
    #[inline]
    pub(super) fn insert(&self, seen: &Seen) -> bool {
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
        // Orders the claim before the fields: a reader that sees any of
        // them sees `WRITING` (or later) when it checks `state` again.
        fence(Ordering::Release);
        let site: *const Location<'static> = seen.site;
        slot.scope.store(seen.scope.as_u64(), Ordering::Relaxed);
        slot.site.store(site.cast_mut(), Ordering::Relaxed);
        slot.opened.store(seen.opened, Ordering::Relaxed);
        slot.thread.store(seen.thread, Ordering::Relaxed);
        slot.state.store(id + 1, Ordering::Release);
        true
    }

    /// The scope of item `id`, if its slot holds it.
    #[inline]
    pub(super) fn scope(&self, id: u64) -> Option<ScopeId> {
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
    pub(super) fn remove(&self, id: u64) -> bool {
        let slot = self.slot(id);
        let live = id.wrapping_add(1);
        if id >= TOO_BIG || slot.state.load(Ordering::Relaxed) != live {
            return false;
        }
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
    pub(super) fn clear(&self) {
        for slot in self.slots.iter() {
            let state = slot.state.load(Ordering::Relaxed);
            if state != FREE {
                let _ = self.remove(state - 1);
            }
        }
    }

    /// An estimate of the removals from all slots so far (wrapping), from
    /// a few slots spread over the ring: ids come in sequence, so each slot
    /// sees its share of them. Reading every slot would pull each line
    /// away from the core that is about to write it again.
    pub(super) fn removals_estimate(&self) -> u64 {
        const SAMPLES: usize = 4;
        (0..SAMPLES)
            .map(|n| u64::from(self.slots[n * SLOTS / SAMPLES].removals.load(Ordering::Relaxed)))
            .fold(0, u64::wrapping_add)
            .wrapping_mul((SLOTS / SAMPLES) as u64)
    }

    /// What the ring holds of `scopes`.
    pub(super) fn tally(&self, scopes: &[ScopeId]) -> Tally {
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
    pub(super) fn for_each(&self, f: &mut impl FnMut(&Seen)) {
        for slot in self.slots.iter() {
            if let (Some(seen), _) = slot.read() {
                f(&seen);
            }
        }
    }
}

impl Slot {
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
            fence(Ordering::Acquire);
            if self.state.load(Ordering::Relaxed) != state {
                continue;
            }
            // SAFETY: every pointer ever stored in `site`, the initial one
            // included, was made from a `&'static Location<'static>`, which
            // lives for the whole program and is never written through; an
            // atomic load returns one of those stores whole.
            let site = unsafe { &*site };
            let seen = Seen {
                id: state - 1,
                scope: ScopeId::from_raw(scope),
                site,
                opened,
                thread,
            };
            return (Some(seen), removals);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::panic::Location;
    use std::sync::Arc;

    use super::{Ring, SLOTS, Seen, TOO_BIG};
    use crate::scope::ScopeId;

    fn seen(id: u64, scope: ScopeId) -> Seen {
        Seen {
            id,
            scope,
            site: Location::caller(),
            opened: 5,
            thread: 3,
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
