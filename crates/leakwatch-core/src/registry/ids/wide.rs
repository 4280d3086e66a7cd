//! The lock-free middle of an id table, for items alive while many others are.
//!
//! When more items are alive at once than an id table's first ring has
//! slots (a server's burst, a test spawning 100k tasks before awaiting
//! them), most of them find their slot taken. They come here: chunks of a
//! few thousand slots, together one slot per id modulo [`SPAN`], each a
//! [`Ring`] that opens, finds and closes an item as the first ring does,
//! with no lock and nothing allocated. A chunk is allocated the first time
//! an id falls in it (about a quarter of a megabyte) and kept with its
//! table; an item whose slot here is taken too goes on to the paged table.
//!
//! Reading a whole chunk takes tens of microseconds, too long for every
//! check, so each chunk counts its opens and closes, and a check reads only
//! chunks whose counts differ. The counts are striped by thread, a cache
//! line per stripe, so the spawning thread and the workers that close
//! tasks do not write one line by turns (with more than [`STRIPES`] busy
//! threads, some share one).
//!
//! A chunk reports every close it counted as a removal, whatever the item's
//! scope: as the first ring does, it cannot afford a count per scope.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use super::super::counts::Tally;
use super::super::ring::{Ring, Seen};
use super::super::thread;
use crate::scope::ScopeId;

/// Slots per chunk: 256 KiB of them.
const CHUNK: usize = 4096;
/// Chunks per table.
const CHUNKS: usize = 32;
/// Ids this part can hold apart: items whose ids differ by a multiple of it
/// share a slot.
pub(super) const SPAN: u64 = (CHUNK * CHUNKS) as u64;
/// Stripes of a chunk's counts: threads whose numbers differ by a multiple
/// of it share one.
const STRIPES: usize = 8;

/// Chunks of slots, allocated as ids first fall in them.
#[derive(Debug, Default)]
pub(super) struct Wide {
    chunks: [OnceLock<Box<Chunk>>; CHUNKS],
}

#[derive(Debug)]
struct Chunk {
    ring: Ring<CHUNK>,
    stripes: [Stripe; STRIPES],
}

/// Counts of the opens and closes of the threads of one stripe, on cache
/// lines of their own (two: x86 fetches lines in pairs).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe {
    /// Items opened so far (wrapping).
    opens: AtomicU64,
    /// Items closed so far (wrapping).
    closes: AtomicU64,
}

/// The calling thread's stripe.
#[inline]
fn stripe() -> usize {
    thread::number() as usize % STRIPES
}

impl Wide {
    /// The chunk id `id`'s slot is in.
    #[inline]
    fn chunk_of(&self, id: u64) -> &OnceLock<Box<Chunk>> {
        &self.chunks[(id % SPAN) as usize / CHUNK]
    }

    /// Records item `seen.id` if its slot is free, allocating its chunk if
    /// need be; false if the slot is taken.
    #[inline]
    pub(super) fn insert(&self, seen: &Seen) -> bool {
        let chunk = self.chunk_of(seen.id).get_or_init(|| Box::new(Chunk::new()));
        // Counted before the item can be found, so before anyone closes it:
        // a check's counts never show a close without its open.
        let opens = &chunk.stripes[stripe()].opens;
        chunk.ring.insert_counted(seen, || {
            opens.fetch_add(1, Ordering::Release);
        })
    }

    /// The scope of item `id`, if its slot holds it.
    #[inline]
    pub(super) fn scope(&self, id: u64) -> Option<ScopeId> {
        self.chunk_of(id).get()?.ring.scope(id)
    }

    /// Removes item `id` if its slot holds it; false if not.
    #[inline]
    pub(super) fn remove(&self, id: u64) -> bool {
        self.chunk_of(id).get().is_some_and(|chunk| chunk.remove(id))
    }

    /// Removes every item, counting each as a removal. No open may run at
    /// the same time (the table is being retired).
    pub(super) fn clear(&self) {
        for chunk in self.chunks.iter().filter_map(OnceLock::get) {
            let closes = &chunk.stripes[0].closes;
            chunk.ring.clear_counted(|_| {
                closes.fetch_add(1, Ordering::Release);
            });
        }
    }

    /// Closes so far (wrapping): how busy this part is, for the clock thread.
    pub(super) fn removals(&self) -> u64 {
        let chunks = self.chunks.iter().filter_map(OnceLock::get);
        chunks.map(|chunk| chunk.closes()).fold(0, u64::wrapping_add)
    }

    /// What this part holds of `scopes`.
    pub(super) fn tally(&self, scopes: &[ScopeId]) -> Tally {
        let mut tally = Tally::default();
        for chunk in self.chunks.iter().filter_map(OnceLock::get) {
            tally += chunk.tally(scopes);
        }
        tally
    }

    /// Calls `f` with every live item.
    pub(super) fn for_each(&self, f: &mut impl FnMut(&Seen)) {
        for chunk in self.chunks.iter().filter_map(OnceLock::get) {
            if !chunk.empty() {
                chunk.ring.for_each(f);
            }
        }
    }

    /// Chunks allocated so far.
    #[cfg(test)]
    fn chunks(&self) -> usize {
        self.chunks.iter().filter(|c| c.get().is_some()).count()
    }
}

impl Chunk {
    fn new() -> Chunk {
        Chunk {
            ring: Ring::sized(),
            stripes: Default::default(),
        }
    }

    #[inline]
    fn remove(&self, id: u64) -> bool {
        // Counted before the slot is freed, as the ring's own removal count
        // is (see `registry::quiet`).
        let closes = &self.stripes[stripe()].closes;
        self.ring.remove_counted(id, |_| {
            closes.fetch_add(1, Ordering::Release);
        })
    }

    /// Whether nothing was open here at some instant during the call.
    ///
    /// Closes are read before opens. Every close read was counted after its
    /// item's open (which came before the item could be found, and so
    /// before anyone could close it), and reading the close (acquire) makes
    /// that open visible to the read of the opens that follows. So opens
    /// minus closes is at least the items open when the opens are read, and
    /// equal counts mean none was.
    fn empty(&self) -> bool {
        let closes = self.closes();
        self.opens() == closes
    }

    /// Items opened here so far (wrapping).
    fn opens(&self) -> u64 {
        let opens = self.stripes.iter().map(|s| s.opens.load(Ordering::Acquire));
        opens.fold(0, u64::wrapping_add)
    }

    /// Items closed here so far (wrapping).
    fn closes(&self) -> u64 {
        let closes = self.stripes.iter().map(|s| s.closes.load(Ordering::Acquire));
        closes.fold(0, u64::wrapping_add)
    }

    /// What this chunk holds of `scopes`, and every close it counted.
    fn tally(&self, scopes: &[ScopeId]) -> Tally {
        let closes = self.closes();
        if self.opens() == closes {
            return Tally {
                open: 0,
                removed: closes,
            };
        }
        let open = self.ring.tally(scopes).open;
        // Read after the slots: an item closed while they were read is
        // counted (see `registry::quiet`).
        Tally {
            open,
            removed: self.closes(),
        }
    }
}


#[cfg(test)]
mod tests {
    use std::panic::Location;

    use super::{CHUNK, CHUNKS, SPAN, Wide};
    use crate::registry::ring::Seen;
    use crate::scope::ScopeId;

    fn seen(id: u64, scope: ScopeId) -> Seen {
        Seen {
            id,
            scope,
            site: Location::caller(),
            opened: 1,
            thread: 2,
            kind: "",
            number: None,
        }
    }

    #[test]
    fn chunks_are_allocated_as_ids_fall_in_them() {
        let scope = ScopeId::for_tests(4_001);
        let wide = Wide::default();
        assert_eq!(wide.chunks(), 0);
        assert_eq!((wide.scope(5), wide.remove(5)), (None, false), "no chunk yet");
        assert!(wide.insert(&seen(5, scope)));
        assert!(wide.insert(&seen(5 + CHUNK as u64, scope)));
        assert_eq!(wide.chunks(), 2);
        assert!(!wide.insert(&seen(5 + SPAN, scope)), "same slot as item 5");
        assert_eq!(wide.chunks(), 2);
        assert_eq!(wide.scope(5), Some(scope));
        assert_eq!(wide.scope(5 + SPAN), None);
        assert!(wide.remove(5) && wide.remove(5 + CHUNK as u64));
        assert!(!wide.remove(5), "closed already");
        assert_eq!(wide.tally(&[scope]).open, 0);
    }

    #[test]
    fn a_check_reads_only_chunks_with_something_open() {
        let (a, b) = (ScopeId::for_tests(4_002), ScopeId::for_tests(4_003));
        let wide = Wide::default();
        let ids: Vec<u64> = (0..SPAN).step_by(CHUNK / 2).collect();
        for &id in &ids {
            assert!(wide.insert(&seen(id, if id % 3 == 0 { a } else { b })));
        }
        assert_eq!(wide.chunks(), CHUNKS);
        let count = |scope| ids.iter().filter(|&&id| (id % 3 == 0) == (scope == a)).count();
        assert_eq!(wide.tally(&[a]).open, count(a) as u64);
        assert_eq!(wide.tally(&[a, b]).open, ids.len() as u64);
        let mut seen_ids = Vec::new();
        wide.for_each(&mut |s| seen_ids.push(s.id));
        assert_eq!(seen_ids, ids);

        // Every chunk but the last empties: only the last one is read.
        let (last, rest) = ids.split_last().unwrap();
        for &id in rest {
            assert!(wide.remove(id));
        }
        let chunk = |id: u64| (id / CHUNK as u64) as usize;
        let read: Vec<usize> = wide.chunks.iter().enumerate()
            .filter(|(_, c)| c.get().is_some_and(|c| !c.empty()))
            .map(|(n, _)| n)
            .collect();
        assert_eq!(read, [chunk(*last)]);
        let tally = wide.tally(&[a, b]);
        assert_eq!((tally.open, tally.removed), (1, rest.len() as u64));
        assert_eq!(wide.removals(), rest.len() as u64);
        assert!(wide.remove(*last));
        assert_eq!(wide.tally(&[a, b]).open, 0);
        let mut left = 0;
        wide.for_each(&mut |_| left += 1);
        assert_eq!(left, 0);
    }

    #[test]
    fn clearing_counts_removals() {
        let scope = ScopeId::for_tests(4_004);
        let wide = Wide::default();
        for id in [1, 2, 3 + CHUNK as u64] {
            assert!(wide.insert(&seen(id, scope)));
        }
        wide.clear();
        let tally = wide.tally(&[scope]);
        assert_eq!((tally.open, tally.removed), (0, 3));
        assert_eq!(wide.scope(1), None);
    }

    #[test]
    fn a_check_never_finds_a_relay_across_chunks_quiet() {
        // Each item opens the next, in another chunk, on another thread,
        // before it closes: one is always open. Counts read stripe by
        // stripe, chunk by chunk, must never add up to none.
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        let scope = ScopeId::for_tests(4_005);
        let wide = Arc::new(Wide::default());
        let done = Arc::new(AtomicBool::new(false));
        let baton = Arc::new(AtomicU64::new(u64::MAX));
        assert!(wide.insert(&seen(0, scope)));
        baton.store(0, Ordering::Release);
        let runners: Vec<_> = (0..2u64)
            .map(|runner| {
                let (wide, done, baton) = (wide.clone(), done.clone(), baton.clone());
                std::thread::spawn(move || {
                    for n in 0..20_000u64 {
                        let id = loop {
                            let id = baton.load(Ordering::Acquire);
                            if id % 2 == runner && id != u64::MAX {
                                break id;
                            }
                            std::hint::spin_loop();
                        };
                        // Far from `id`, and the other runner's.
                        let far = (n * 2 + runner + 1) * (CHUNK as u64 + 1) % SPAN;
                        let next = far & !1 | (1 - runner);
                        assert!(wide.insert(&seen(next, scope)), "{next}");
                        assert!(wide.remove(id));
                        baton.store(next, Ordering::Release);
                    }
                    done.store(true, Ordering::Relaxed);
                })
            })
            .collect();
        let mut looks = 0u64;
        let mut tally = wide.tally(&[scope]);
        while !done.load(Ordering::Relaxed) {
            let again = wide.tally(&[scope]);
            assert!(tally.open + again.open > 0 || again.removed != tally.removed, "quiet");
            tally = again;
            looks += 1;
        }
        for r in runners {
            r.join().unwrap();
        }
        assert!(looks > 0);
    }
}
