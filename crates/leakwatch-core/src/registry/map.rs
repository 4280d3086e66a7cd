//! The locked back of an id table, for items its ring has no slot for.
//!
//! Items with a stack, and items whose ring slot is taken (by a long-lived
//! item, or with more items alive at once than the ring has slots), live in
//! a map by id, split over [`SHARDS`] locks so that the worker threads of a
//! runtime rarely wait for each other. Each shard counts its entries where
//! lookups can read them without the lock, so ids that are not there cost
//! no lock.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_utils::CachePadded;
use spin::mutex::SpinMutex;
use spin::relax::Yield;

/// Locks, so that threads rarely wait for each other.
const SHARDS: usize = 32;

/// Entries of type `V` by key, behind locks.
#[derive(Debug)]
pub(super) struct Map<V> {
    shards: [CachePadded<Locked<V>>; SHARDS],
}

#[derive(Debug)]
struct Locked<V> {
    /// Entries in `map`, written under its lock, read without it.
    live: AtomicUsize,
    map: SpinMutex<HashMap<u64, V, BuildHasherDefault<KeyHasher>>, Yield>,
}

impl<V> Map<V> {
    pub(super) const fn new() -> Map<V> {
        Map {
            shards: [const {
                CachePadded::new(Locked {
                    live: AtomicUsize::new(0),
                    map: SpinMutex::new(HashMap::with_hasher(BuildHasherDefault::new())),
                })
            }; SHARDS],
        }
    }

    #[inline]
    fn shard(&self, key: u64) -> &Locked<V> {
        &self.shards[(key % SHARDS as u64) as usize]
    }

    /// Adds `value` under `key`, returning the value it replaced, if any.
    #[inline]
    pub(super) fn insert(&self, key: u64, value: V) -> Option<V> {
        let shard = self.shard(key);
        let mut map = shard.map.lock();
        let old = map.insert(key, value);
        shard.live.store(map.len(), Ordering::Relaxed);
        old
    }

    /// Calls `f` with the value under `key`, if there is one.
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

    /// Removes every value, calling `f` with each.
    pub(super) fn clear(&self, mut f: impl FnMut(V)) {
        for shard in &self.shards {
            let mut map = shard.map.lock();
            map.drain().for_each(|(_, value)| f(value));
            shard.live.store(0, Ordering::Relaxed);
        }
    }

    /// Calls `f` with every entry, shard by shard, under each shard's lock.
    pub(super) fn for_each(&self, f: &mut impl FnMut(&V)) {
        for shard in &self.shards {
            if shard.live.load(Ordering::Relaxed) == 0 {
                continue;
            }
            shard.map.lock().values().for_each(&mut *f);
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
}
