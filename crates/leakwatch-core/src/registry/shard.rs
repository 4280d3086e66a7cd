//! A thread's shard: its own ring, and a slab of records behind one lock.
//! Which items go to which, and why shards are never freed: the registry's
//! docs, "# Where a record lives" and "# Never freed".
//!
//! The slab is a `Vec` with a free list, indexed by slot, so an open and a
//! close are a lock and an index.
//! The slab is written here rather than taken from the `slab` crate, whose
//! `remove` moves a record out to drop it, a copy of the whole record on
//! every close of a detailed item.
//!
//! The lock is a spin lock that yields when taken: its thread is almost
//! always the only one to take it, and an uncontended spin lock is one
//! compare-exchange to lock and a store to unlock.

use std::sync::{Mutex, PoisonError};

use spin::mutex::{SpinMutex, SpinMutexGuard};
use spin::relax::Yield;

use std::sync::atomic::{AtomicU64, Ordering};

use super::own::OwnRing;
use super::{Number, Record, STAMP_BITS};
use crate::scope_id::ScopeId;

/// One thread's records: plain ones in its own ring, the rest in a slab.
/// Never freed: see "# Never freed" in the registry's docs.
#[derive(Debug)]
pub(crate) struct Shard {
    slab: SpinMutex<Slab, Yield>,
    /// The thread's ring; none in the [`FALLBACK`] shard, which any thread
    /// may use.
    pub(super) own: Option<OwnRing>,
    /// Items the thread opened in id tables so far (written by the thread
    /// alone, lost updates aside in the fallback shard): how busy the
    /// tables are, for the clock thread.
    pub(super) id_opens: AtomicU64,
}

#[derive(Debug)]
struct Slab {
    slots: Vec<Slot>,
    /// Head of the free list threaded through `Slot::Free`, or `NONE`.
    free: u32,
    /// Inserts so far (wrapping): a record's stamp is the count after its
    /// own insert, so a slot that still has its stamp's count holds that
    /// record or nothing.
    inserts: u32,
}

#[derive(Debug)]
enum Slot {
    Live(Record),
    Free { next: u32 },
}

const NONE: u32 = u32::MAX;

impl Shard {
    /// A shard without a ring.
    pub(crate) const fn new() -> Shard {
        Shard {
            slab: SpinMutex::new(Slab {
                slots: Vec::new(),
                free: NONE,
                inserts: 0,
            }),
            own: None,
            id_opens: AtomicU64::new(0),
        }
    }

    /// A shard for one thread, with a ring of its own.
    pub(crate) fn for_thread() -> Shard {
        Shard {
            own: Some(OwnRing::new()),
            ..Shard::new()
        }
    }

    /// Stores the record that `make` makes given `thread` (the thread's
    /// number), returning its slot and stamp. O(1) amortized. `make` runs
    /// under the lock, so the record is built in its slot rather than built
    /// elsewhere and copied in.
    #[inline(always)]
    pub(crate) fn insert(&self, thread: u32, make: impl FnOnce(u32) -> Record) -> (u32, u32) {
        let mut slab = self.lock();
        slab.inserts = slab.inserts.wrapping_add(1);
        let stamp = slab.inserts;
        let index = match slab.free {
            NONE => {
                let index = slab.slots.len();
                assert!(index < NONE as usize, "leakwatch: over 4 billion items open on one thread");
                slab.slots.push(Slot::Live(make(thread)));
                index as u32
            }
            index => {
                let slot = &mut slab.slots[index as usize];
                let Slot::Free { next } = *slot else {
                    unreachable!("leakwatch: free list points at a live slot");
                };
                *slot = Slot::Live(make(thread));
                slab.free = next;
                index
            }
        };
        (index, stamp)
    }

    /// Sets the id of the record in `index` if it is still there: if `stamp`
    /// is `None`, or if the shard had no insert since the one that returned
    /// it (of which the low [`STAMP_BITS`] are given), the slot holds that
    /// record or is free. Returns whether it was set.
    #[inline]
    pub(crate) fn set_id(&self, index: u32, stamp: Option<u32>, id: u64) -> bool {
        let mut slab = self.lock();
        if stamp.is_some_and(|stamp| slab.inserts & STAMP_BITS != stamp) {
            return false;
        }
        match &mut slab.slots[index as usize] {
            Slot::Live(record) => {
                record.number = Some(Number::Id(id));
                true
            }
            Slot::Free { .. } => false,
        }
    }

    /// Frees `index`, which must be live, returning its scope, and its
    /// record if it was must-close (to become a finding). Any other record
    /// is dropped in place: moving it out costs a detailed item's life a
    /// third more.
    #[inline]
    pub(crate) fn remove(&self, index: u32) -> (ScopeId, Option<Record>) {
        let mut slab = self.lock();
        let next = slab.free;
        let slot = &mut slab.slots[index as usize];
        let Slot::Live(record) = slot else {
            unreachable!("leakwatch: slot {index} removed twice")
        };
        let scope = record.scope;
        let kept = if record.must_close {
            match std::mem::replace(slot, Slot::Free { next }) {
                Slot::Live(record) => Some(record),
                Slot::Free { .. } => None,
            }
        } else {
            *slot = Slot::Free { next };
            None
        };
        slab.free = index;
        (scope, kept)
    }

    /// Notes an open in an id table by the shard's thread.
    #[inline]
    pub(crate) fn note_id_open(&self) {
        let opens = self.id_opens.load(Ordering::Relaxed);
        self.id_opens.store(opens.wrapping_add(1), Ordering::Relaxed);
    }

    /// Calls `f` with every record in the slab (see [`Shard::own`] for the
    /// ring's).
    pub(crate) fn for_each(&self, f: &mut impl FnMut(&Record)) {
        for slot in &self.lock().slots {
            if let Slot::Live(record) = slot {
                f(record);
            }
        }
    }

    #[inline]
    fn lock(&self) -> SpinMutexGuard<'_, Slab> {
        self.slab.lock()
    }
}

/// Used when a thread opens or drops items after its thread-locals are gone.
pub(crate) static FALLBACK: Shard = Shard::new();

static ALL: Mutex<Vec<&'static Shard>> = Mutex::new(Vec::new());

/// Makes a new shard visible to snapshots (shards are never freed: see
/// "# Never freed" in the registry's docs).
pub(crate) fn register(shard: &'static Shard) {
    ALL.lock().unwrap_or_else(PoisonError::into_inner).push(shard);
}

/// Every shard there is, the fallback one included.
pub(crate) fn all() -> Vec<&'static Shard> {
    let mut shards = ALL.lock().unwrap_or_else(PoisonError::into_inner).clone();
    shards.push(&FALLBACK);
    shards
}
