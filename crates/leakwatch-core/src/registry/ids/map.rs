//! The locked back of an id table, for items its ring has no slot for.
//!
//! Items with a stack, and items whose ring slot is taken (by a long-lived
//! item, or with more items alive at once than the ring has slots), come
//! here: a map by id, split over [`SHARDS`] locks so that the worker
//! threads of a runtime rarely wait for each other. Each shard counts its
//! items where lookups can read them without the lock, so ids that are
//! not here cost no lock.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_utils::CachePadded;
use spin::mutex::SpinMutex;
use spin::relax::Yield;

use super::Entry;
use crate::scope_id::ScopeId;

/// Locks, so the worker threads of a runtime rarely wait for each other.
const SHARDS: usize = 32;

/// Records by id, behind locks.
#[derive(Debug, Default)]
pub(super) struct Map {
    shards: [CachePadded<Locked>; SHARDS],
}

#[derive(Debug, Default)]
struct Locked {
    /// Items in `map`, written under its lock, read without it.
    live: AtomicUsize,
    map: SpinMutex<HashMap<u64, Entry, BuildHasherDefault<IdHasher>>, Yield>,
}

impl Map {
    #[inline]
    fn shard(&self, id: u64) -> &Locked {
        &self.shards[(id % SHARDS as u64) as usize]
    }

    /// Adds item `id`, returning the entry it replaced, if any.
    pub(super) fn insert(&self, id: u64, entry: Entry) -> Option<Entry> {
        let shard = self.shard(id);
        let mut map = shard.map.lock();
        let old = map.insert(id, entry);
        shard.live.store(map.len(), Ordering::Relaxed);
        old
    }

    /// The scope of item `id`, if the map has it.
    pub(super) fn scope(&self, id: u64) -> Option<ScopeId> {
        let shard = self.shard(id);
        if shard.live.load(Ordering::Relaxed) == 0 {
            return None;
        }
        shard.map.lock().get(&id).map(|entry| entry.scope)
    }

    /// Removes item `id`, returning its scope; `None` if the map has none.
    pub(super) fn remove(&self, id: u64) -> Option<ScopeId> {
        let shard = self.shard(id);
        if shard.live.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let mut map = shard.map.lock();
        let entry = map.remove(&id)?;
        shard.live.store(map.len(), Ordering::Relaxed);
        Some(entry.scope)
    }

    /// Removes every item, calling `f` with each one's scope.
    pub(super) fn clear(&self, mut f: impl FnMut(ScopeId)) {
        for shard in &self.shards {
            let mut map = shard.map.lock();
            for (_, entry) in map.drain() {
                f(entry.scope);
            }
            shard.live.store(0, Ordering::Relaxed);
        }
    }

    /// Calls `f` with every item, shard by shard, under each shard's lock.
    pub(super) fn for_each(&self, f: &mut impl FnMut(u64, &Entry)) {
        for shard in &self.shards {
            if shard.live.load(Ordering::Relaxed) == 0 {
                continue;
            }
            for (&id, entry) in shard.map.lock().iter() {
                f(id, entry);
            }
        }
    }
}

/// Ids are spread already: a multiply mixes their high bits in.
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
