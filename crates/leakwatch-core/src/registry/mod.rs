//! The registry of live items.
//!
//! Every thread that opens a tracked item gets a [`Shard`] of its own. Plain
//! items (a kind and a site: most of them) go to the shard's [`own`] ring,
//! where only that thread opens and nothing is locked; the rest, and plain
//! ones whose ring slot is taken, to a slab behind a lock that only that
//! thread takes on open, so opening never contends with other threads.
//! Dropping an item from the slab locks the shard it lives in, which is the
//! opening thread's unless the item moved. A check walks every shard; checks
//! are rare, opens and drops are not.
//!
//! Shards are never freed. When a thread exits, its shard (and whatever is
//! still open in it) goes to a pool that the next new thread takes from, so
//! their number stays at the most threads that were ever alive at once.
//!
//! Items known only by an id (tasks seen by tokio's hooks) are kept in
//! [`ids`] tables instead, which checks read like shards.
//!
//! Must-close items dropped without `close` leave the slab and become
//! findings of their scope, kept in [`unclosed`] until the scope checks them.

mod counts;
pub(crate) use counts::Tally;
pub(crate) mod ids;
mod own;
mod record;
mod ring;
mod shard;
mod thread;
pub(crate) mod unclosed;

pub(crate) use record::{NumberIs, Record};
use own::OwnRing;
pub(crate) use shard::Shard;
pub(crate) use thread::{number as thread_number, thread_label};

use std::panic::Location;

use crate::clock;
use crate::scope::ScopeId;
use ring::Seen;

/// Where a live record sits: its shard, and its key in the shard's ring or
/// its slot in the slab.
#[derive(Debug)]
pub(crate) struct Handle {
    shard: &'static Shard,
    /// With [`IN_RING`] set, the item's key in the shard's ring. Otherwise
    /// its slot (low half) and the shard's insert count just after its
    /// insert (next 31 bits). One word: a handle is returned through
    /// memory, and a word written whole is read back whole, without the
    /// store-forwarding stall of reading two halves as one word (a perf
    /// profile put 4% of a tracked spawn's time on that one load).
    key: u64,
}

/// Set in a [`Handle`]'s key when the item is in its shard's ring.
const IN_RING: u64 = 1 << 63;

/// A copy of a [`Handle`] that may outlive its record: it can set the
/// record's id, and only while the record's slot is known to hold it.
///
/// Used on the thread that opened the item (`Tag::late_id` gives a
/// `LateId`, which is not `Send`): an item in a ring is then set by its
/// ring's thread, the only one that fills its slots, so the slot cannot
/// change under the call.
#[derive(Debug)]
pub(crate) struct LateHandle {
    shard: &'static Shard,
    key: u64,
}

/// The ring of `shard` and the key in it, if `key` is a ring's.
#[inline]
fn ring_of(shard: &'static Shard, key: u64) -> Option<(&'static OwnRing, u64)> {
    match (key & IN_RING != 0, &shard.own) {
        (true, Some(own)) => Some((own, key & !IN_RING)),
        _ => None,
    }
}

/// Records an item as open, in the calling thread's shard: `make` makes
/// its record, given the thread's number. (Made here rather than passed in,
/// so the record is not copied once more after its thread is filled in.)
#[inline(always)]
pub(crate) fn insert(scope: ScopeId, make: impl FnOnce(u32) -> Record) -> Handle {
    let (shard, number) = thread::current();
    insert_in_slab(shard, number, scope, make)
}

#[inline(always)]
fn insert_in_slab(
    shard: &'static Shard,
    number: u32,
    scope: ScopeId,
    make: impl FnOnce(u32) -> Record,
) -> Handle {
    let (index, stamp) = shard.insert(number, scope, make);
    Handle {
        shard,
        key: u64::from(index) | u64::from(stamp & STAMP_BITS) << 32,
    }
}

/// The bits of a slab insert's stamp a [`Handle`] keeps.
const STAMP_BITS: u32 = u32::MAX >> 1;

/// Records a plain item (a kind and a site, in `scope`) as open: in the
/// calling thread's ring, or in its slab if the ring cannot take it.
#[inline(always)]
pub(crate) fn insert_plain(
    kind: &'static str,
    site: &'static Location<'static>,
    scope: ScopeId,
) -> Handle {
    let (shard, number) = thread::current();
    let opened = clock::recent_nanos();
    if let Some(own) = &shard.own
        && let Some(key) = own.insert(Seen::plain(kind, site, scope, opened, number))
    {
        return Handle {
            shard,
            key: key | IN_RING,
        };
    }
    insert_plain_in_slab(kind, site, scope, opened)
}

/// [`insert_plain`] for an item its thread's ring did not take: out of
/// line, so the ring's path keeps its registers (its arguments travel in
/// them, where a whole `Seen` would be written to the stack first).
#[cold]
#[inline(never)]
fn insert_plain_in_slab(
    kind: &'static str,
    site: &'static Location<'static>,
    scope: ScopeId,
    opened: u64,
) -> Handle {
    let (shard, number) = thread::current();
    insert_in_slab(shard, number, scope, |thread| {
        Record::from_ring(&Seen::plain(kind, site, scope, opened, thread))
    })
}

/// Gives a live item an id (a task's, known only once it is spawned).
#[inline]
pub(crate) fn set_id(handle: &Handle, id: u64) {
    match handle.ring() {
        // The item is live while its handle is borrowed: its slot holds it.
        Some((own, key)) => {
            own.set_number(key, id);
        }
        None => handle.shard.set_id(handle.index(), id),
    }
}

impl Handle {
    /// The record's slot in its shard's slab.
    #[inline]
    fn index(&self) -> u32 {
        self.key as u32
    }

    /// The shard's ring and the item's key there, if the item is in it.
    #[inline]
    fn ring(&self) -> Option<(&'static OwnRing, u64)> {
        ring_of(self.shard, self.key)
    }

    /// A handle that can give this item an id later, after the tag holding
    /// this handle moved on and perhaps was dropped.
    #[inline]
    pub(crate) fn late(&self) -> LateHandle {
        LateHandle {
            shard: self.shard,
            key: self.key,
        }
    }
}

/// Gives the item of `late` an id if nothing was inserted in its shard since
/// it was: then its slot holds it or, if it was dropped, nothing. Returns
/// whether the id was set.
#[inline]
pub(crate) fn set_id_late(late: &LateHandle, id: u64) -> bool {
    if let Some((own, key)) = ring_of(late.shard, late.key) {
        // A key is never used twice: a slot holding it holds this item.
        return own.set_number(key, id);
    }
    let (index, stamp) = (late.key as u32, (late.key >> 32) as u32);
    late.shard.set_id_if_unchanged(index, stamp, id)
}

/// Removes an item, returning what was recorded for it if it was in the
/// slab.
#[inline]
pub(crate) fn remove(handle: Handle) -> Option<Record> {
    match handle.ring() {
        Some((own, key)) => {
            own.remove(key);
            None
        }
        None => Some(handle.shard.remove(handle.index())),
    }
}

/// Removes an item on drop, returning its record only if it was must-close.
#[inline]
pub(crate) fn release(handle: Handle) -> Option<Record> {
    match handle.ring() {
        // Must-close items are never in a ring.
        Some((own, key)) => {
            own.remove(key);
            None
        }
        None => handle.shard.release(handle.index()),
    }
}

/// A count that grows as items close in the threads' rings and the id
/// tables (an estimate for the latter): how busy the registry is, for the
/// clock thread (see [`clock::Ticking`]).
pub(crate) fn activity() -> u64 {
    let rings = shard::all()
        .iter()
        .filter_map(|shard| shard.own.as_ref())
        .map(OwnRing::closes)
        .fold(0, u64::wrapping_add);
    rings.wrapping_add(ids::activity())
}

/// What the registry holds of `scopes`, from each shard's and id table's
/// per-scope counts: no record is looked at.
pub(crate) fn tally(scopes: &[ScopeId]) -> Tally {
    let mut tally = Tally::default();
    for shard in shard::all() {
        tally += shard.tally(scopes);
    }
    for table in ids::tables() {
        tally += table.tally(scopes);
    }
    tally
}

/// Whether nothing of `scopes` was open at some instant during the call.
///
/// Shards are read one at a time, so one pass can miss a record: a task of
/// the scope opens one in a shard already read, then closes its own in a
/// shard not read yet. So a pass that finds nothing open is confirmed by a
/// second one that finds nothing open *and* no removal in between: anything
/// open in between would have had to be removed before the second pass
/// read its shard. For that, every part reads its removal counts *after* its
/// records (or both at once, under a lock), and counts a removal before the
/// record is gone. Gives up (returning false) after a few tries while the
/// scopes keep changing.
pub(crate) fn quiet(scopes: &[ScopeId]) -> bool {
    let mut before = tally(scopes);
    for _ in 0..64 {
        if before.open != 0 {
            return false;
        }
        let after = tally(scopes);
        if after == before {
            return true;
        }
        before = after;
    }
    false
}

/// Calls `f` with every live record, shard by shard, then table by table.
pub(crate) fn for_each_live(mut f: impl FnMut(&Record)) {
    for shard in shard::all() {
        shard.for_each(&mut f);
        if let Some(own) = &shard.own {
            own.for_each(&mut |seen| f(&Record::from_ring(seen)));
        }
    }
    for table in ids::tables() {
        table.for_each(&mut f);
    }
}

#[cfg(test)]
mod tests;
