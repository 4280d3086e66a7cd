//! A thread's own ring: where its plain items (every `Tag::new`, every
//! `leakwatch::fs::File`) live, with no lock. Only the thread opens in it,
//! keyed by a count of its opens; any thread closes. 16 KiB per thread.
//! Its place among the records: the registry's docs, "# Where a record
//! lives".

use super::ring::{Ring, Seen};
use crate::scope_id::ScopeId;
use crate::sync::{AtomicU64, Ordering};

/// Keys an open tries before leaving the item to the slab.
const PROBES: u64 = 4;

/// A ring that one thread opens in, and any thread closes in.
#[derive(Debug)]
pub(super) struct OwnRing {
    ring: Ring,
    /// The key of the next item: written by the owner alone, read by the
    /// clock thread as a count of the ring's opens.
    next_key: AtomicU64,
}

impl OwnRing {
    pub(super) fn new() -> OwnRing {
        OwnRing {
            ring: Ring::new(),
            next_key: AtomicU64::new(0),
        }
    }

    /// Records `seen` (its key is ignored) and returns its key; `None` if
    /// the slots of the next [`PROBES`] keys are all taken. Only the ring's
    /// own thread may call this (see "# Rings" in the registry's docs).
    #[inline(always)]
    pub(super) fn insert(&self, seen: Seen) -> Option<u64> {
        // Plain loads and stores: only this thread writes the key.
        let first = self.next_key.load(Ordering::Relaxed);
        // A key's slot taken by a long-lived item: any key will do, so try
        // the next ones.
        for key in first..first + PROBES {
            if self.ring.insert_owned(&Seen { id: key, ..seen }) {
                self.next_key.store(key + 1, Ordering::Relaxed);
                return Some(key);
            }
        }
        self.next_key.store(first + PROBES, Ordering::Relaxed);
        None
    }

    /// Gives item `key` an id, if it is still open; any thread may.
    #[inline]
    pub(super) fn set_number(&self, key: u64, number: u64) -> bool {
        self.ring.set_number(key, number)
    }

    /// Closes item `key`, which must be open here, returning its scope.
    #[inline]
    pub(super) fn remove(&self, key: u64) -> ScopeId {
        let scope = self.ring.remove(key);
        debug_assert!(scope.is_some(), "leakwatch: item {key} closed twice");
        scope.unwrap_or(ScopeId::NONE)
    }

    /// Calls `f` with every open item.
    pub(super) fn for_each(&self, f: &mut impl FnMut(&Seen)) {
        self.ring.for_each(f);
    }

    /// Opens so far: how busy the ring is, for the clock thread.
    pub(super) fn opens(&self) -> u64 {
        self.next_key.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
#[cfg(not(loom))]
mod tests {
    use std::panic::Location;

    use super::OwnRing;
    use crate::registry::ring::{SLOTS, Seen};
    use crate::scope_id::ScopeId;

    fn seen() -> Seen {
        Seen::plain("file", Location::caller(), ScopeId::from_raw(6_001), 1, 1)
    }

    fn live(own: &OwnRing) -> usize {
        let mut n = 0;
        own.for_each(&mut |_| n += 1);
        n
    }

    #[test]
    fn keys_count_opens_and_a_full_ring_refuses() {
        let own = OwnRing::new();
        let first = own.insert(seen()).unwrap();
        let keys: Vec<_> = (1..SLOTS).map(|_| own.insert(seen()).unwrap()).collect();
        assert_eq!(keys, (first + 1..first + SLOTS as u64).collect::<Vec<_>>());
        assert_eq!(own.insert(seen()), None, "every slot taken");
        assert_eq!(live(&own), SLOTS);

        assert_eq!(own.remove(first), ScopeId::from_raw(6_001));
        for key in keys {
            own.remove(key);
        }
        assert_eq!(live(&own), 0);
        assert!(own.insert(seen()).is_some());
        assert_eq!(own.opens(), SLOTS as u64 + 4 + 1, "probes count as keys");
    }

    #[test]
    fn a_slot_held_by_a_long_lived_item_is_skipped() {
        let own = OwnRing::new();
        let long_lived = own.insert(seen()).unwrap();
        // Keys go round the ring: the next one on the long-lived item's slot
        // moves on to the slot after it.
        let mut keys = Vec::new();
        for _ in 0..SLOTS {
            let key = own.insert(seen()).unwrap();
            own.remove(key);
            keys.push(key);
        }
        assert_eq!(keys.last(), Some(&(long_lived + SLOTS as u64 + 1)), "one key skipped");
        own.remove(long_lived);
    }
}

/// Models of a thread's ring passing to a new thread through the shard
/// pool (see the ring's models for how to run them).
#[cfg(test)]
#[cfg(loom)]
mod loom {
    use std::panic::Location;

    use loom::sync::{Arc, Mutex};
    use loom::thread;

    use super::OwnRing;
    use crate::registry::ring::Seen;
    use crate::scope_id::ScopeId;

    fn seen(kind: &'static str) -> Seen {
        Seen::plain(kind, Location::caller(), ScopeId::NONE, 0, 1)
    }

    /// A thread opens an item, hands it to a closer and exits, leaving its
    /// ring in the pool; a new thread takes the ring and opens in it while
    /// the item closes. The new thread's item never takes the live one's
    /// slot, and both are found until closed.
    #[test]
    fn a_pooled_ring_never_reopens_a_live_slot() {
        loom::model(|| {
            let pool: Arc<Mutex<Vec<Arc<OwnRing>>>> = Arc::new(Mutex::new(Vec::new()));
            let first = {
                let pool = pool.clone();
                thread::spawn(move || {
                    let own = Arc::new(OwnRing::new());
                    let key = own.insert(seen("handed")).unwrap();
                    pool.lock().unwrap().push(own.clone());
                    (own, key)
                })
            };
            let (own, handed) = first.join().unwrap();
            let closer = thread::spawn(move || own.remove(handed));
            let next = {
                let pool = pool.clone();
                thread::spawn(move || {
                    let own = pool.lock().unwrap().pop().unwrap();
                    let key = own.insert(seen("next"));
                    (own, key)
                })
            };
            closer.join().unwrap();
            let (own, key) = next.join().unwrap();
            let key = key.expect("a slot was free");
            assert_ne!(key, handed, "keys are never used twice");
            let mut kinds = Vec::new();
            own.for_each(&mut |s| kinds.push((s.id, s.kind)));
            assert_eq!(kinds, [(key, "next")]);
        });
    }
}
