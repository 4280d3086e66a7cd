//! A thread's own ring: where its plain items live, with no lock.
//!
//! Most items are plain: a kind and a site, no detail, no stack, nothing to
//! close explicitly (every `Tag::new`, every unnamed tracked task). Each
//! thread's [`Shard`](super::Shard) keeps those in a [`Ring`] that only the
//! thread opens in, keyed by a count of its opens, so opening one is a few
//! plain stores and closing it, from any thread, two plain stores and one
//! atomic add; the shard's lock is taken only by items the ring cannot take
//! (a detail, a stack, a must-close, or a slot still held by an older item).
//!
//! Counts of the ring's opens and closes let a check skip a ring with
//! nothing open, which is most of them, without reading its slots. A ring
//! takes 16 KiB, allocated with its shard: once per thread that ever opens a
//! tracked item while alive at the same time as the others (shards are
//! pooled).

use std::sync::atomic::{AtomicU64, Ordering};

use super::counts::Tally;
use super::ring::{Ring, Seen};
use crate::scope::ScopeId;

/// Keys an open tries before leaving the item to the slab.
const PROBES: u64 = 4;

/// A ring that one thread opens in, and any thread closes in.
#[derive(Debug)]
pub(super) struct OwnRing {
    ring: Ring,
    /// The owner's side: written by its thread alone.
    owner: Owner,
    /// Items closed so far, on a line of its own: other threads add to it.
    closed: Closed,
}

#[derive(Debug)]
#[repr(align(64))]
struct Owner {
    /// The key of the next item.
    next_key: AtomicU64,
    /// Items opened in the ring so far.
    opened: AtomicU64,
}

#[derive(Debug)]
#[repr(align(64))]
struct Closed(AtomicU64);

impl OwnRing {
    pub(super) fn new() -> OwnRing {
        OwnRing {
            ring: Ring::new(),
            owner: Owner {
                next_key: AtomicU64::new(0),
                opened: AtomicU64::new(0),
            },
            closed: Closed(AtomicU64::new(0)),
        }
    }

    /// Records `seen` (its key is ignored) and returns its key; `None` if
    /// the slots of the next [`PROBES`] keys are all taken. Only the ring's
    /// own thread may call this.
    #[inline(always)]
    pub(super) fn insert(&self, seen: Seen) -> Option<u64> {
        let opened = &self.owner.opened;
        // Counted before the item can be seen (and so closed): a check that
        // reads the close count, then the open count, never finds more
        // closes than opens. Plain loads and stores: only this thread writes
        // the owner's side.
        let count = || opened.store(opened.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        let first = self.owner.next_key.load(Ordering::Relaxed);
        // A key's slot taken by a long-lived item: any key will do, so try
        // the next ones.
        for key in first..first + PROBES {
            if self.ring.insert_owned(&Seen { id: key, ..seen }, count) {
                self.owner.next_key.store(key + 1, Ordering::Relaxed);
                return Some(key);
            }
        }
        self.owner.next_key.store(first + PROBES, Ordering::Relaxed);
        None
    }

    /// Gives item `key` its number: see [`Ring::set_number`] for who may.
    #[inline]
    pub(super) fn set_number(&self, key: u64, number: u64) -> bool {
        self.ring.set_number(key, number)
    }

    /// Closes item `key`, which must be open here.
    #[inline]
    pub(super) fn remove(&self, key: u64) {
        let removed = self.ring.remove(key);
        debug_assert!(removed, "leakwatch: item {key} closed twice");
        self.closed.0.fetch_add(1, Ordering::Release);
    }

    /// The count of closes, and whether anything may be open: false only
    /// if the ring was empty at some instant during the call.
    fn closes_and_any_open(&self) -> (u64, bool) {
        // Closes first: each close was counted after its open, so if the
        // opens read next are no more, everything opened was closed.
        let closed = self.closed.0.load(Ordering::Acquire);
        let opened = self.owner.opened.load(Ordering::Acquire);
        (closed, opened != closed)
    }

    /// What the ring holds of `scopes`. Its slots are read only if
    /// something is open; `removed` is the count of closes.
    pub(super) fn tally(&self, scopes: &[ScopeId]) -> Tally {
        let (closed, any_open) = self.closes_and_any_open();
        Tally {
            open: if any_open { self.ring.tally(scopes).open } else { 0 },
            removed: closed,
        }
    }

    /// Calls `f` with every open item.
    pub(super) fn for_each(&self, f: &mut impl FnMut(&Seen)) {
        if self.closes_and_any_open().1 {
            self.ring.for_each(f);
        }
    }

    /// Closes so far: how busy the ring is, for the clock thread.
    pub(super) fn closes(&self) -> u64 {
        self.closed.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use std::panic::Location;

    use super::OwnRing;
    use crate::registry::ring::{SLOTS, Seen};
    use crate::scope::ScopeId;

    fn seen(scope: ScopeId) -> Seen {
        Seen::plain("file", Location::caller(), scope, 1, 1)
    }

    #[test]
    fn keys_count_opens_and_a_full_ring_refuses() {
        let scope = ScopeId::for_tests(4_001);
        let own = OwnRing::new();
        assert_eq!(own.tally(&[scope]).open, 0);
        let first = own.insert(seen(scope)).unwrap();
        let keys: Vec<_> = (1..SLOTS).map(|_| own.insert(seen(scope)).unwrap()).collect();
        assert_eq!(keys, (first + 1..first + SLOTS as u64).collect::<Vec<_>>());
        assert_eq!(own.insert(seen(scope)), None, "every slot taken");
        assert_eq!(own.tally(&[scope]).open, SLOTS as u64);

        own.remove(first);
        let tally = own.tally(&[scope]);
        assert_eq!((tally.open, tally.removed), (SLOTS as u64 - 1, 1));
        for key in keys {
            own.remove(key);
        }
        let mut left = 0;
        own.for_each(&mut |_| left += 1);
        assert_eq!((own.tally(&[scope]).open, left, own.closes()), (0, 0, SLOTS as u64));
        assert!(own.insert(seen(scope)).is_some());
    }

    #[test]
    fn a_slot_held_by_a_long_lived_item_is_skipped() {
        let scope = ScopeId::for_tests(4_004);
        let own = OwnRing::new();
        let long_lived = own.insert(seen(scope)).unwrap();
        // Keys go round the ring: the next one on the long-lived item's slot
        // moves on to the slot after it.
        let mut keys = Vec::new();
        for _ in 0..SLOTS {
            let key = own.insert(seen(scope)).unwrap();
            own.remove(key);
            keys.push(key);
        }
        assert_eq!(keys.last(), Some(&(long_lived + SLOTS as u64 + 1)), "one key skipped");
        own.remove(long_lived);
    }

    #[test]
    fn only_the_given_scopes_count() {
        let (a, b) = (ScopeId::for_tests(4_002), ScopeId::for_tests(4_003));
        let own = OwnRing::new();
        let key = own.insert(seen(a)).unwrap();
        assert_eq!((own.tally(&[a]).open, own.tally(&[b]).open), (1, 0));
        assert!(own.set_number(key, 9));
        let mut items = Vec::new();
        own.for_each(&mut |s| items.push((s.kind, s.number, s.scope)));
        assert_eq!(items, [("file", Some(9), a)]);
        own.remove(key);
    }
}
