//! The registry of live items, and the counts that tell a check whether a
//! scope is quiet.
//!
//! Snapshots walk every record; checks of clean scopes read only the
//! [`counts`]. Where each record is, and what is never freed so that no
//! hook reads freed memory, is stated here once; the other modules point
//! back to it.
//!
//! # Where a record lives
//!
//! An open item has exactly one record, in one of these places; a closed
//! one has none, except a must-close item dropped without `close`:
//!
//! | Place | What it holds | Written by | Read by |
//! |---|---|---|---|
//! | a [`Shard`]'s [`own`] ring | plain items (a kind, a site, perhaps a descriptor: most items) of the shard's thread | the thread opens, any thread closes or sets an id | snapshots, no lock ("# Rings") |
//! | a [`Shard`]'s slab | the thread's items with a detail, a stack or a must-close duty, and plain items whose ring slot was taken; the fallback shard's slab (a static, no ring) takes the items of threads whose thread-locals are gone | its spin lock's holder | snapshots, under the lock |
//! | an [`ids`] table's ring | items known only by an id (tokio's tasks), nearly all of them | any thread (a compare-exchange claims a slot) | lookups by id and snapshots, no lock ("# Rings") |
//! | an [`ids`] table's wide part | the same, for ids whose ring slot is taken (bursts): rings in chunks, allocated as ids first fall in them | as the ring | as the ring |
//! | an [`ids`] table's [`map`] | ids whose slots are all taken, and items with a stack | under one of its shard locks, allocating nothing | lookups (the allocator's too) and snapshots, under the lock |
//! | [`unclosed`] | must-close items dropped without `close`: no longer open, kept for the checks of their scope (then of its parent) until their top-level scope is dropped | the dropping thread, and a dropped scope's, under its lock | checks, under the lock |
//!
//! Beside the records, two tables know of items only by number: each
//! scope's [`counts`] (opens and closes per thread stripe, "# Counting"),
//! and the [`scopes`] table (each scope's family and its slot of counts,
//! kept while anything counted in it is open). A [`Handle`] (a `Tag`'s)
//! names its record's shard and its key in the ring or its slot in the
//! slab; a [`LateHandle`] can outlive the record, so it only sets an id,
//! and only if its key or slot still holds the same item.
//!
//! # Never freed
//!
//! Hooks run where freeing cannot be waited for: tokio's task hooks, an
//! interposed libc call, an allocator asking which scope it counts in,
//! a thread being torn down. They read records without a lock, so the
//! memory they read is never freed, and never reused for anything else:
//!
//! - **Shards** (their ring and slab): `Box::leak`ed when a thread first
//!   opens something. When the thread exits, its shard, with what is still
//!   open in it, goes to a pool the next new thread takes from (see
//!   [`thread`]), so there are as many as threads were ever alive at once.
//! - **Id tables** (their ring, wide chunks and map): `Box::leak`ed, and
//!   pooled empty on [`retire`](ids::IdRecords::retire) for the next table of
//!   the same kind; a reference to one (the followed table's) may be kept
//!   anywhere. A wide chunk, once allocated, stays with its table.
//! - **Counts**: allocated by segments of scopes, in statics, and reused by
//!   later scopes through a generation (rule 5 of "# Counting"), never
//!   freed.
//! - **What a ring's slot points to**: a site is a `&'static Location`,
//!   a kind a `&'static str`, so a reader racing a close dereferences only
//!   what lives for the whole program.
//!
//! What is freed is reached only under a lock: a slab's records and their
//! details and stacks, the map's entries and tables (dropped after its
//! lock is released), the [`unclosed`] list, and the [`scopes`] table.
//!
//! # Counting
//!
//! Each scope has [`counts`]: opens and closes, in [`counts::STRIPES`]
//! stripes chosen by thread number, each on a cache line of its own. These
//! rules make a check of a family of scopes exact, whatever other scopes
//! and threads do:
//!
//! 1. An open is counted (in its thread's stripe of its scope's opens)
//!    before the item can be found or handed to anyone, so before anyone
//!    can close it: the open happens-before the close's count.
//! 2. A close is counted (in the closer's stripe of the scope's closes)
//!    exactly once per counted open, whichever part held the record.
//! 3. Counts only grow, and every count and every read of one is
//!    sequentially consistent.
//! 4. A check reads every closes of the family, then every opens. If the
//!    sums match, take the instant `t` between the two reads: each close
//!    read was counted before `t` and, by 1, its open too; each open
//!    counted before `t` is in the opens read. So the opens counted before
//!    `t` number no more than the opens read, which equal the closes read,
//!    which are closes counted before `t`: nothing of the family was open
//!    at `t`. If they differ, something was open at some point of the
//!    look; the check then walks the records (and, finding nothing, looks
//!    again).
//! 5. A scope's slot is used again only once its `Scope` is dropped and its
//!    counts are balanced: the slot's generation moves on first, then the
//!    counts are read again. An open counts first and then checks the
//!    generation, so by 3 either it sees the new generation (and undoes its
//!    count with a close, recording its item in no scope), or the second
//!    read sees its count and the slot is kept. A close never checks the
//!    generation: its slot cannot have been taken back while its item was
//!    open.
//!
//! `counts::loom` models 4 (an item handed between threads) and 5 (an open
//! racing a retirement).
//!
//! # Rings
//!
//! A ring's slot has a `state`: free, being written, or the key of its live
//! item plus one. Its fields are written only through a `Claim` (in
//! `ring/slot.rs`, whose fields nothing else can reach): the thread that
//! moves `state` from free to being-written takes it, fills the fields,
//! and the claim publishes the key with a release store when it drops;
//! only the closer of that key frees the slot, with a release store.
//! Readers (snapshots, lookups) read `state`, the fields, then `state`
//! again after an acquire fence, and take the fields only if both reads
//! agree: a seqlock whose writers never overlap, because a slot has at most
//! one claim (a thread's own ring: its owner alone claims; an id table's
//! ring: a compare-exchange claims the slot) and at most one closer (keys
//! are unique among open items).
//!
//! An item's number (a task id set after the open, or a descriptor given at
//! it) is the exception: any thread may set it while the item is open
//! (`Tag::set_id`, `IdSetter::set`), so it lives outside the seqlock, in
//! `number` and `number_of`, under a lock of its own: a setter takes the
//! lock (a `NumberLock`) with a compare-exchange on `number_of`, checks
//! that `state` still holds its item (else the lock puts `number_of` back),
//! writes `number`, and the lock releases by storing its item's key plus
//! one in `number_of`. A claim gives a descriptor the same way. A
//! reader takes the number only if `number_of` names the key it read in
//! `state` and did not change while it read `number`. So a number is never
//! shown on another item, and a reader's `unsafe` (the kind, built from
//! `kind_ptr` and `kind_len`) relies only on fields the seqlock protects.
//! `ring::loom` models both.
//!
//! A thread's ring is opened in only by its thread. A shard passes to
//! another thread only through the pool's lock, when its thread's
//! thread-locals are gone, so its new owner sees every write of the old
//! (`own::loom` models it).

mod counts;
pub(crate) mod ids;
mod map;
mod own;
mod record;
mod ring;
pub(crate) mod scopes;
mod shard;
mod thread;
pub(crate) mod unclosed;

pub(crate) use record::{Number, Record};
pub(crate) use shard::Shard;
pub(crate) use thread::thread_label;

use std::panic::Location;

use crate::clock;
use crate::scope_id::ScopeId;
use own::OwnRing;
use ring::Seen;

/// Where a live record sits: its shard, and its key in the shard's ring or
/// its slot in the slab.
#[derive(Debug)]
pub(crate) struct Handle {
    shard: &'static Shard,
    /// With [`IN_RING`] set, the item's key in the shard's ring. Otherwise
    /// its slot (low half) and the shard's insert count just after its
    /// insert (next 31 bits). One word: a handle is returned through
    /// memory, and a word written whole is read back whole.
    key: u64,
}

/// Set in a [`Handle`]'s key when the item is in its shard's ring.
const IN_RING: u64 = 1 << 63;

/// The bits of a slab insert's stamp a [`Handle`] keeps.
const STAMP_BITS: u32 = u32::MAX >> 1;

/// A copy of a [`Handle`] that may outlive its record: it can set the
/// record's id while the record is open (a ring's key is never used twice;
/// a slab's slot holds it if nothing was inserted in its shard since).
#[derive(Debug)]
pub(crate) struct LateHandle(Handle);

/// Records an item as open in `scope`, in the calling thread's slab:
/// `make` makes its record, given the thread's number and the scope it is
/// counted in (see [`counts::open`]).
#[inline(always)]
pub(crate) fn insert(scope: ScopeId, make: impl FnOnce(u32, ScopeId) -> Record) -> Handle {
    let (shard, number) = thread::current();
    let scope = counts::open(scope, number);
    insert_in_slab(shard, number, |thread| make(thread, scope))
}

#[inline(always)]
fn insert_in_slab(shard: &'static Shard, number: u32, make: impl FnOnce(u32) -> Record) -> Handle {
    let (index, stamp) = shard.insert(number, make);
    Handle {
        shard,
        key: u64::from(index) | u64::from(stamp & STAMP_BITS) << 32,
    }
}

/// Records a plain item (a kind and a site, in `scope`, perhaps named by
/// descriptor `fd`, whose path a snapshot reads) as open: in the calling
/// thread's ring, or in its slab if the ring cannot take it.
#[inline(always)]
pub(crate) fn insert_plain(
    kind: &'static str,
    site: &'static Location<'static>,
    scope: ScopeId,
    fd: Option<u64>,
) -> Handle {
    let (shard, thread) = thread::current();
    let scope = counts::open(scope, thread);
    let opened = clock::recent_nanos();
    let seen = Seen {
        number: fd.map(Number::Fd),
        ..Seen::plain(kind, site, scope, opened, thread)
    };
    if let Some(own) = &shard.own
        && let Some(key) = own.insert(seen)
    {
        return Handle {
            shard,
            key: key | IN_RING,
        };
    }
    insert_seen_in_slab(shard, thread, seen)
}

/// [`insert_plain`] for an item its thread's ring did not take: out of
/// line, so the ring's path keeps its registers.
#[cold]
#[inline(never)]
fn insert_seen_in_slab(shard: &'static Shard, thread: u32, seen: Seen) -> Handle {
    insert_in_slab(shard, thread, |_| Record::from_ring(&seen))
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
        match (self.key & IN_RING != 0, &self.shard.own) {
            (true, Some(own)) => Some((own, self.key & !IN_RING)),
            _ => None,
        }
    }

    /// A handle that can give this item an id later, after the tag holding
    /// this handle moved on and perhaps was dropped.
    #[inline]
    pub(crate) fn late(&self) -> LateHandle {
        LateHandle(Handle {
            shard: self.shard,
            key: self.key,
        })
    }
}

/// Gives a live item an id (a task's, known only once it is spawned).
#[inline]
pub(crate) fn set_id(handle: &Handle, id: u64) {
    match handle.ring() {
        Some((own, key)) => {
            own.set_number(key, id);
        }
        None => {
            handle.shard.set_id(handle.index(), None, id);
        }
    }
}

/// Gives the item of `late` an id if it is still open. Returns whether the
/// id was set.
#[inline]
pub(crate) fn set_id_late(late: &LateHandle, id: u64) -> bool {
    let handle = &late.0;
    match handle.ring() {
        Some((own, key)) => own.set_number(key, id),
        None => handle.shard.set_id(handle.index(), Some((handle.key >> 32) as u32), id),
    }
}

/// Removes an item, returning its record if it was must-close (to become
/// a finding if it was dropped rather than closed).
#[inline]
pub(crate) fn remove(handle: Handle) -> Option<Record> {
    match handle.ring() {
        // Must-close items are never in a ring.
        Some((own, key)) => {
            counts::close(own.remove(key), thread::number());
            None
        }
        None => remove_from_slab(handle),
    }
}

/// [`remove`] for an item in a slab, out of line, so the ring's path
/// keeps its registers.
#[inline(never)]
fn remove_from_slab(handle: Handle) -> Option<Record> {
    let (scope, record) = handle.shard.remove(handle.index());
    counts::close(scope, thread::number());
    record
}

/// A count that grows as items open in the threads' rings and the id
/// tables: how busy the registry is, for the clock thread (see
/// [`clock::Ticking`]).
pub(crate) fn activity() -> u64 {
    shard::all()
        .iter()
        .map(|shard| {
            let ring = shard.own.as_ref().map_or(0, OwnRing::opens);
            ring.wrapping_add(shard.id_opens.load(std::sync::atomic::Ordering::Relaxed))
        })
        .fold(0, u64::wrapping_add)
}

/// Whether nothing of `family` was open at some instant during the call
/// (see "# Counting").
pub(crate) fn quiet(family: &[ScopeId]) -> bool {
    counts::quiet(family)
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
#[cfg(not(loom))]
mod tests;
