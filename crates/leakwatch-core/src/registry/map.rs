//! The locked back of an id table, for items its ring has no slot for.
//!
//! Items with a stack, and items whose ring slot is taken (by a long-lived
//! item, or with more items alive at once than the ring has slots), live in
//! a map by id, split over [`SHARDS`] locks so that the worker threads of a
//! runtime rarely wait for each other. Each shard counts its entries where
//! lookups can read them without the lock, so ids that are not there cost
//! no lock. Its place among the records: the registry's docs, "# Where a
//! record lives".
//!
//! # Nothing allocates under a shard's lock
//!
//! [`ScopeId::current`](crate::ScopeId::current), inside an item of the
//! followed table (see [`IdTable::follow`](crate::IdTable::follow)), looks
//! the item up here,
//! taking its shard's lock; and an allocator that counts by scope (as
//! leakwatch-interpose's does) asks it on every allocation. An allocation
//! made while holding a shard's lock would then wait for that very lock, on
//! its own thread, forever. So under a lock the map only reads, moves and
//! clones without allocating: [`Map::insert`] grows a table by building the
//! bigger one first, unlocked; [`Map::for_each`] copies the entries out
//! into room made before locking, and calls its function unlocked; tables
//! and values are dropped unlocked. A thread that waits for a shard's lock
//! thus waits for a holder that waits for nothing, and the lookup is the
//! only lock of the registry that the allocator's path takes (rings and the
//! wide part's chunks are read without waiting).

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_utils::CachePadded;
use spin::mutex::SpinMutex;
use spin::relax::Yield;

/// Locks, so that threads rarely wait for each other.
const SHARDS: usize = 32;

/// A shard's table.
type Table<V> = HashMap<u64, V, BuildHasherDefault<KeyHasher>>;

/// Entries of type `V` by key, behind locks. `V`'s clone must not allocate
/// (see "# Nothing allocates under a shard's lock").
#[derive(Debug)]
pub(super) struct Map<V> {
    shards: [CachePadded<Locked<V>>; SHARDS],
}

#[derive(Debug)]
struct Locked<V> {
    /// Entries in `map`, written under its lock, read without it.
    live: AtomicUsize,
    map: SpinMutex<Table<V>, Yield>,
}

/// An empty table: no allocation.
const fn empty<V>() -> Table<V> {
    HashMap::with_hasher(BuildHasherDefault::new())
}

impl<V> Map<V> {
    pub(super) const fn new() -> Map<V> {
        Map {
            shards: [const {
                CachePadded::new(Locked {
                    live: AtomicUsize::new(0),
                    map: SpinMutex::new(empty()),
                })
            }; SHARDS],
        }
    }

    #[inline]
    fn shard(&self, key: u64) -> &Locked<V> {
        &self.shards[(key % SHARDS as u64) as usize]
    }

    /// Adds `value` under `key`, returning the value it replaced, if any.
    /// A full table is replaced by a bigger one made before locking, so
    /// the insert itself never allocates.
    #[inline]
    pub(super) fn insert(&self, key: u64, value: V) -> Option<V> {
        let shard = self.shard(key);
        let mut map = shard.map.lock();
        // `capacity` is what the table holds without allocating; a key
        // already there is replaced in place.
        if map.len() < map.capacity() || map.contains_key(&key) {
            let old = map.insert(key, value);
            shard.live.store(map.len(), Ordering::Relaxed);
            return old;
        }
        drop(map);
        self.insert_grown(shard, key, value)
    }

    /// [`insert`](Self::insert) into a full table, out of line: makes a
    /// table twice as big, unlocked, then moves the entries over under the
    /// lock, until one fits (other threads may fill it in between).
    #[cold]
    #[inline(never)]
    fn insert_grown(&self, shard: &Locked<V>, key: u64, value: V) -> Option<V> {
        let mut wanted = shard.live.load(Ordering::Relaxed);
        loop {
            let mut bigger = Table::with_capacity_and_hasher((wanted + 1) * 2, BuildHasherDefault::new());
            let mut map = shard.map.lock();
            // Room made, or freed, by another thread meanwhile.
            let fits = map.len() < map.capacity() || map.contains_key(&key);
            if fits || map.len() < bigger.capacity() {
                if !fits {
                    // `bigger` has room for every entry and one more, so
                    // neither the moves nor the insert allocate.
                    for (k, v) in map.drain() {
                        bigger.insert(k, v);
                    }
                    std::mem::swap(&mut *map, &mut bigger);
                }
                let old = map.insert(key, value);
                shard.live.store(map.len(), Ordering::Relaxed);
                drop(map);
                // The old table (or the unused new one) is freed unlocked.
                drop(bigger);
                return old;
            }
            wanted = map.len();
        }
    }

    /// Calls `f` with the value under `key`, if there is one. `f` runs
    /// under the shard's lock, so it must not allocate.
    #[inline]
    pub(super) fn with<R>(&self, key: u64, f: impl FnOnce(&mut V) -> R) -> Option<R> {
        let shard = self.shard(key);
        if shard.live.load(Ordering::Relaxed) == 0 {
            return None;
        }
        shard.map.lock().get_mut(&key).map(f)
    }

    /// Removes the value under `key`.
    #[inline]
    pub(super) fn remove(&self, key: u64) -> Option<V> {
        let shard = self.shard(key);
        if shard.live.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let mut map = shard.map.lock();
        let value = map.remove(&key)?;
        shard.live.store(map.len(), Ordering::Relaxed);
        Some(value)
    }

    /// Removes every value, calling `f` with each (unlocked).
    pub(super) fn clear(&self, mut f: impl FnMut(V)) {
        for shard in &self.shards {
            let taken = {
                let mut map = shard.map.lock();
                shard.live.store(0, Ordering::Relaxed);
                std::mem::replace(&mut *map, empty())
            };
            taken.into_values().for_each(&mut f);
        }
    }

    /// Calls `f` with a copy of every entry, shard by shard: each shard's
    /// entries are copied under its lock, into room made before taking it,
    /// and `f` runs after the lock is released.
    pub(super) fn for_each(&self, f: &mut impl FnMut(&V))
    where
        V: Clone,
    {
        let mut copies: Vec<V> = Vec::new();
        for shard in &self.shards {
            let mut wanted = shard.live.load(Ordering::Relaxed);
            while wanted > 0 {
                copies.reserve(wanted);
                let map = shard.map.lock();
                if map.len() > copies.capacity() {
                    // Grown since `live` was read: make room again, unlocked.
                    wanted = map.len();
                    continue;
                }
                // Room for all: neither the pushes nor the clones allocate.
                for value in map.values() {
                    copies.push(value.clone());
                }
                break;
            }
            copies.drain(..).for_each(|value| f(&value));
        }
    }
}

/// Ids are spread already: a multiply mixes their high
/// bits into the ones the table indexes by.
#[derive(Default)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
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
#[cfg(not(loom))]
mod tests {
    use super::Map;

    #[test]
    fn inserts_finds_replaces_and_removes_by_key() {
        let map: Map<&str> = Map::new();
        assert_eq!(map.insert(7, "a"), None);
        assert_eq!(map.insert(7 + 32, "b"), None, "same shard, other key");
        assert_eq!(map.insert(7, "c"), Some("a"));
        assert_eq!(map.with(7, |v| *v), Some("c"));
        assert_eq!(map.with(8, |v| *v), None);
        let mut all = Vec::new();
        map.for_each(&mut |v| all.push(*v));
        all.sort_unstable();
        assert_eq!(all, ["b", "c"]);
        assert_eq!(map.remove(7), Some("c"));
        assert_eq!(map.remove(7), None);
        let mut cleared = Vec::new();
        map.clear(|v| cleared.push(v));
        assert_eq!(cleared, ["b"]);
        assert_eq!(map.with(39, |v| *v), None);
    }

    #[test]
    fn a_full_table_grows_keeping_every_entry() {
        let map: Map<u64> = Map::new();
        let keys: Vec<u64> = (0..500).map(|k| 3 + 32 * k).collect();
        for &key in &keys {
            assert_eq!(map.insert(key, key * 10), None, "key {key}");
            let shard = map.shard(key);
            let table = shard.map.lock();
            assert!(table.len() <= table.capacity());
            assert_eq!(shard.live.load(std::sync::atomic::Ordering::Relaxed), table.len());
        }
        // A key already there is replaced, full table or not.
        for &key in &keys {
            assert_eq!(map.insert(key, key), Some(key * 10), "key {key}");
        }
        let mut all = Vec::new();
        map.for_each(&mut |v| all.push(*v));
        all.sort_unstable();
        assert_eq!(all, keys);
        let mut cleared = 0;
        map.clear(|_| cleared += 1);
        assert_eq!(cleared, keys.len());
        assert_eq!(map.with(3, |v| *v), None);
    }

    #[test]
    fn threads_growing_one_table_at_once_lose_no_entry() {
        let map: Map<u64> = Map::new();
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let map = &map;
                s.spawn(move || {
                    for k in 0..300u64 {
                        let key = 5 + 32 * (t + 4 * k);
                        assert_eq!(map.insert(key, key), None);
                        if k % 3 == 0 {
                            assert_eq!(map.remove(key), Some(key));
                        }
                    }
                });
            }
        });
        let mut all = Vec::new();
        map.for_each(&mut |v| all.push(*v));
        all.sort_unstable();
        let mut expected: Vec<u64> = (0..4u64)
            .flat_map(|t| (0..300u64).filter(|k| k % 3 != 0).map(move |k| 5 + 32 * (t + 4 * k)))
            .collect();
        expected.sort_unstable();
        assert_eq!(all, expected);
    }
}
