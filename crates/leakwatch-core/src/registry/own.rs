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
//! A check reads every slot of each ring. (A version that skipped rings
//! whose counts of opens and closes matched let a check find a scope quiet
//! while an item was being handed between threads, under load: removed.)
//! Closes are counted by scope (in [`BUCKETS`] counters, a scope's chosen by its
//! hash): a check confirms "nothing open" by seeing no close of its own
//! scopes between two looks (see [`registry::quiet`](super::quiet)), which
//! other scopes' churn in the same ring must not spoil. A ring
//! takes 16 KiB, allocated with its shard: once per thread that ever opens a
//! tracked item while alive at the same time as the others (shards are
//! pooled).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::counts::Tally;
use super::ring::{Ring, Seen};
use crate::scope::ScopeId;

/// Keys an open tries before leaving the item to the slab.
const PROBES: u64 = 4;

/// Counters of closes per ring, by scope hash: 64 four-byte counters, four
/// cache lines.
const BUCKETS: usize = 64;

/// A ring that one thread opens in, and any thread closes in.
#[derive(Debug)]
pub(super) struct OwnRing {
    ring: Ring,
    /// The owner's side: written by its thread alone.
    owner: Owner,
    /// Items closed so far, by their scope's bucket (wrapping), on lines of
    /// their own: other threads add to them.
    closed: Closed,
}

#[derive(Debug)]
#[repr(align(64))]
struct Owner {
    /// The key of the next item.
    next_key: AtomicU64,
}

#[derive(Debug)]
#[repr(align(64))]
struct Closed([AtomicU32; BUCKETS]);

/// The bucket of `scope`'s closes.
#[inline]
fn bucket(scope: ScopeId) -> usize {
    let hash = scope.as_u64().wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (hash >> (u64::BITS - BUCKETS.ilog2())) as usize
}

impl Closed {
    /// Closes of every scope so far (wrapping at `u32`, as opens are
    /// compared with it).
    fn total(&self) -> u32 {
        self.0
            .iter()
            .map(|bucket| bucket.load(Ordering::Acquire))
            .fold(0, u32::wrapping_add)
    }
}

impl OwnRing {
    pub(super) fn new() -> OwnRing {
        OwnRing {
            ring: Ring::new(),
            owner: Owner {
                next_key: AtomicU64::new(0),
            },
            closed: Closed(std::array::from_fn(|_| AtomicU32::new(0))),
        }
    }

    /// Records `seen` (its key is ignored) and returns its key; `None` if
    /// the slots of the next [`PROBES`] keys are all taken. Only the ring's
    /// own thread may call this.
    #[inline(always)]
    pub(super) fn insert(&self, seen: Seen) -> Option<u64> {
        // Plain loads and stores: only this thread writes the key.
        let first = self.owner.next_key.load(Ordering::Relaxed);
        // A key's slot taken by a long-lived item: any key will do, so try
        // the next ones.
        for key in first..first + PROBES {
            if self.ring.insert_owned(&Seen { id: key, ..seen }) {
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
        // Counted before the slot is freed, as a slab counts a removal under
        // the lock that frees it: a check must never see the item gone and
        // its close not yet counted (see `registry::quiet`).
        let closed = &self.closed;
        let count = |scope| {
            closed.0[bucket(scope)].fetch_add(1, Ordering::Release);
        };
        let removed = self.ring.remove_counted(key, count);
        debug_assert!(removed, "leakwatch: item {key} closed twice");
    }

    /// What the ring holds of `scopes`; `removed` counts the closes of
    /// items whose scope shares a bucket with one of `scopes`, read *after*
    /// the slots: an item a look did not find because it closed while the
    /// slots were read is then in the count (its close is counted before
    /// its slot is freed), so the next look sees the count move (see
    /// [`registry::quiet`](super::quiet)). Read before, it could be in
    /// neither look.
    pub(super) fn tally(&self, scopes: &[ScopeId]) -> Tally {
        let open = self.ring.tally(scopes).open;
        let mut buckets: Vec<usize> = scopes.iter().map(|s| bucket(*s)).collect();
        buckets.sort_unstable();
        buckets.dedup();
        let removed = buckets
            .iter()
            .map(|&b| u64::from(self.closed.0[b].load(Ordering::Acquire)))
            .fold(0, u64::wrapping_add);
        Tally { open, removed }
    }

    /// Calls `f` with every open item.
    pub(super) fn for_each(&self, f: &mut impl FnMut(&Seen)) {
        self.ring.for_each(f);
    }

    /// Closes so far (wrapping): how busy the ring is, for the clock thread.
    pub(super) fn closes(&self) -> u64 {
        u64::from(self.closed.total())
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
        let scope = ScopeId::for_tests(6_001);
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
    fn only_closes_of_the_given_scopes_are_counted() {
        // A check waits for its scopes' removal count to hold still: other
        // scopes' closes in the same ring must not move it.
        let mine = ScopeId::for_tests(6_005);
        let other = (6_006..7_000)
            .map(ScopeId::for_tests)
            .find(|s| super::bucket(*s) != super::bucket(mine))
            .unwrap();
        let own = OwnRing::new();
        let before = own.tally(&[mine]).removed;
        for _ in 0..10 {
            own.remove(own.insert(seen(other)).unwrap());
        }
        assert_eq!(own.tally(&[mine]).removed, before, "another scope's closes");
        own.remove(own.insert(seen(mine)).unwrap());
        assert_eq!(own.tally(&[mine]).removed, before + 1);
        assert_eq!(own.tally(&[mine, mine]).removed, before + 1, "a bucket counted once");
        assert_eq!(own.closes(), 11);
    }

    #[test]
    fn a_slot_held_by_a_long_lived_item_is_skipped() {
        let scope = ScopeId::for_tests(6_004);
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
        let (a, b) = (ScopeId::for_tests(6_002), ScopeId::for_tests(6_003));
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
