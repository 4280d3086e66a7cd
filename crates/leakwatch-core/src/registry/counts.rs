//! Per-scope counts of opens and closes: how a check knows a scope is quiet.
//!
//! Every scope has a slot here, [`OpenCloseCounts`], found from its id's
//! index with two loads and no lock. An open adds one to the opening
//! thread's stripe of its scope's opens; a close adds one to the closing
//! thread's stripe of closes. A check of a family of scopes reads every closes, then every
//! opens: if the sums match, nothing of the family was open at an instant
//! between the two reads. The protocol and its proof are in the registry's
//! docs, "# Counting".
//!
//! A slot is used again by a later scope once its scope is dropped and
//! balanced: its generation then moves on, so that an open in the old
//! scope (a copy of its id kept somewhere) finds out, undoes its count and
//! records its item in no scope instead. Slots are never freed: see
//! "# Never freed" in the registry's docs.

use std::sync::OnceLock;

use crossbeam_utils::CachePadded;

use crate::scope_id::ScopeId;
use crate::sync::{self, AtomicU32, AtomicU64, Ordering};

/// Stripes of counts per scope: threads whose numbers differ by a multiple
/// of it share one (and its cache line).
pub(crate) const STRIPES: usize = 8;

/// Scopes counted per segment: segments are allocated as scopes need them.
const SEGMENT: usize = 64;
/// Segments there can be: a million scopes alive at once.
const SEGMENTS: usize = 16_384;

/// The counts of one scope.
#[derive(Debug)]
pub(crate) struct OpenCloseCounts {
    /// Which use of the slot this is: ids of other uses are dead here.
    /// Read by every open, written when a scope is retired: a line of its
    /// own, shared by readers.
    generation: CachePadded<AtomicU32>,
    stripes: [CachePadded<Stripe>; STRIPES],
}

#[derive(Debug, Default)]
struct Stripe {
    opens: AtomicU64,
    closes: AtomicU64,
}

impl OpenCloseCounts {
    pub(crate) fn new() -> OpenCloseCounts {
        OpenCloseCounts {
            generation: CachePadded::new(AtomicU32::new(0)),
            stripes: std::array::from_fn(|_| CachePadded::new(Stripe::default())),
        }
    }

    /// Counts an open in `stripe` if the slot is still in its
    /// `generation`th use; false (and nothing counted, once undone) if not.
    #[inline]
    pub(crate) fn open(&self, stripe: usize, generation: u32) -> bool {
        let stripe = &self.stripes[stripe % STRIPES];
        // Counted first, then the generation checked: see "# Counting" for
        // why a retirement cannot miss it.
        stripe.opens.fetch_add(1, Ordering::SeqCst);
        sync::seq_cst_order();
        if self.generation.load(Ordering::SeqCst) == generation {
            return true;
        }
        stripe.closes.fetch_add(1, Ordering::SeqCst);
        false
    }

    /// Counts a close in `stripe`.
    #[inline]
    pub(crate) fn close(&self, stripe: usize) {
        self.stripes[stripe % STRIPES]
            .closes
            .fetch_add(1, Ordering::SeqCst);
        sync::seq_cst_order();
    }

    /// Closes so far, all stripes.
    fn closes(&self) -> u64 {
        self.stripes
            .iter()
            .map(|s| s.closes.load(Ordering::SeqCst))
            .fold(0, u64::wrapping_add)
    }

    /// Opens so far, all stripes.
    fn opens(&self) -> u64 {
        self.stripes
            .iter()
            .map(|s| s.opens.load(Ordering::SeqCst))
            .fold(0, u64::wrapping_add)
    }

    /// Whether nothing counted here was open at some instant of the call.
    pub(crate) fn balanced(&self) -> bool {
        sync::seq_cst_order();
        let closes = self.closes();
        sync::seq_cst_order();
        self.opens() == closes
    }

    /// The current use of the slot.
    fn generation(&self) -> u32 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Ends the slot's current use: opens in it fail from now on.
    pub(crate) fn retire(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

/// Whether nothing of `family` was open at some instant during the call:
/// every closes first, then every opens (see "# Counting").
pub(crate) fn quiet(family: &[ScopeId]) -> bool {
    sync::seq_cst_order();
    let mut closes = 0u64;
    for &scope in family {
        if let Some(counts) = counts(scope) {
            closes = closes.wrapping_add(counts.closes());
        }
    }
    sync::seq_cst_order();
    let mut opens = 0u64;
    for &scope in family {
        if let Some(counts) = counts(scope) {
            opens = opens.wrapping_add(counts.opens());
        }
    }
    opens == closes
}

/// Counts an open of an item in `scope` by a thread of number `thread`,
/// returning the scope to record it in: `scope`, or
/// [`ScopeId::NONE`] if `scope` is gone (or none to begin with).
#[inline]
pub(crate) fn open(scope: ScopeId, thread: u32) -> ScopeId {
    match counts(scope) {
        Some(counts) if counts.open(thread as usize, scope.generation()) => scope,
        _ => ScopeId::NONE,
    }
}

/// Counts a close of an item recorded in `scope` by a thread of number
/// `thread`. The scope's slot is still its own: a slot is not used again
/// while anything counted in it is open.
#[inline]
pub(crate) fn close(scope: ScopeId, thread: u32) {
    if let Some(counts) = counts(scope) {
        counts.close(thread as usize);
    }
}

/// The counts of `scope`'s slot, if it has one ([`ScopeId::NONE`] has
/// none, nor has an id made up rather than allocated).
#[inline]
pub(crate) fn counts(scope: ScopeId) -> Option<&'static OpenCloseCounts> {
    let index = scope.index() as usize;
    if index == 0 {
        return None;
    }
    let segment = SEGMENTS_TABLE.get(index / SEGMENT)?.get()?;
    Some(&segment[index % SEGMENT])
}

type Segment = [OpenCloseCounts; SEGMENT];

static SEGMENTS_TABLE: [OnceLock<Box<Segment>>; SEGMENTS] = [const { OnceLock::new() }; SEGMENTS];

/// Slots handed out and taken back, by the scope table (under its lock).
#[derive(Debug, Default)]
pub(crate) struct Slots {
    /// Slots whose scopes were retired, ready for new ones.
    free: Vec<u32>,
    /// The next slot never used; slot 0 is [`ScopeId::NONE`]'s.
    next: u32,
}

impl Slots {
    /// A slot for a new scope, and so its id; `None` when a million
    /// scopes are alive at once.
    pub(crate) fn allocate(&mut self) -> Option<ScopeId> {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                let index = self.next.max(1);
                if index as usize >= SEGMENT * SEGMENTS {
                    return None;
                }
                self.next = index + 1;
                index
            }
        };
        let segment = SEGMENTS_TABLE[index as usize / SEGMENT]
            .get_or_init(|| Box::new(std::array::from_fn(|_| OpenCloseCounts::new())));
        let generation = segment[index as usize % SEGMENT].generation();
        Some(ScopeId::from_parts(index, generation))
    }

    /// Takes back the slot of `scope`, which was retired and is balanced.
    pub(crate) fn free(&mut self, scope: ScopeId) {
        self.free.push(scope.index());
    }
}

#[cfg(test)]
#[cfg(not(loom))]
mod tests {
    use super::*;

    #[test]
    fn slots_are_used_again_under_a_new_generation() {
        let mut slots = Slots::default();
        let a = slots.allocate().unwrap();
        let b = slots.allocate().unwrap();
        assert_ne!(a.index(), 0, "slot 0 is no scope's");
        assert_ne!(a.index(), b.index());
        assert_eq!(open(a, 1), a);
        assert!(!counts(a).unwrap().balanced());
        close(a, 2);
        assert!(counts(a).unwrap().balanced());
        assert!(quiet(&[a, b]));

        counts(a).unwrap().retire();
        slots.free(a);
        let c = slots.allocate().unwrap();
        assert_eq!((c.index(), c.generation()), (a.index(), a.generation() + 1));
        assert_eq!(open(a, 1), ScopeId::NONE, "the old scope is gone");
        assert!(quiet(&[c]), "an undone open leaves the new scope balanced");
        assert_eq!(open(c, 1), c);
        assert!(!quiet(&[b, c]));
        close(c, 1);
        assert!(quiet(&[b, c]));
    }

    #[test]
    fn no_scope_and_made_up_ids_are_not_counted() {
        assert_eq!(open(ScopeId::NONE, 1), ScopeId::NONE);
        let made_up = ScopeId::from_parts(u32::MAX - 1, 0);
        assert_eq!(open(made_up, 1), ScopeId::NONE);
        close(made_up, 1);
        assert!(quiet(&[ScopeId::NONE, made_up]));
    }
}

/// Models of the counting protocol under loom (see [`ring`'s](super::ring)
/// for how to run them).
#[cfg(test)]
#[cfg(loom)]
mod loom {
    use loom::sync::Arc;
    use loom::sync::atomic::{AtomicBool, Ordering};
    use loom::thread;

    use super::OpenCloseCounts;

    /// An item handed from one thread to another, which opens the next
    /// before it closes the first: one is open throughout, so no check may
    /// find the scope balanced, whatever it reads in between.
    #[test]
    fn a_check_never_misses_an_item_handed_between_threads() {
        loom::model(|| {
            let counts = Arc::new(OpenCloseCounts::new());
            assert!(counts.open(0, 0));
            let handed = Arc::new(AtomicBool::new(false));
            let relay = {
                let (counts, handed) = (counts.clone(), handed.clone());
                thread::spawn(move || {
                    // Thread 1 takes the first item, opens a second, closes
                    // the first.
                    while !handed.load(Ordering::Acquire) {
                        loom::thread::yield_now();
                    }
                    assert!(counts.open(1, 0));
                    counts.close(1);
                })
            };
            handed.store(true, Ordering::Release);
            assert!(!counts.balanced(), "an item was open throughout");
            relay.join().unwrap();
            assert!(!counts.balanced(), "the second item is still open");
        });
    }

    /// An open racing the retirement of its scope: either the open is
    /// counted and the retirer sees the scope unbalanced, or the open
    /// fails; never both missed.
    #[test]
    fn a_retirement_never_misses_a_racing_open() {
        loom::model(|| {
            let counts = Arc::new(OpenCloseCounts::new());
            let opener = {
                let counts = counts.clone();
                thread::spawn(move || counts.open(1, 0))
            };
            counts.retire();
            let balanced = counts.balanced();
            let opened = opener.join().unwrap();
            assert!(!(opened && balanced), "an open counted in a slot taken back");
            if !opened {
                assert!(counts.balanced(), "a failed open leaves nothing counted");
            }
        });
    }
}
