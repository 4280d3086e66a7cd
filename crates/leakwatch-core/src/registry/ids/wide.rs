//! The lock-free middle of an id table, for items alive while many others are.
//!
//! When more items are alive at once than an id table's first ring has
//! slots (a server's burst, a test spawning 100k tasks before awaiting
//! them), most of them find their slot taken. They come here: chunks of
//! [`CHUNK`] slots, together one slot per id modulo [`SPAN`], each a
//! [`Ring`] that opens, finds and closes an item as the first ring does,
//! with no lock. A chunk is allocated the first time an id falls in it
//! (64 KiB) and kept with its table, so a process spends at most 8 MiB per
//! table here, and only once bursts came; an item whose slot here is taken
//! too goes on to the paged table.
//!
//! Reading a whole chunk takes microseconds, too long for every check, so
//! each chunk's opens and closes are counted, and a check reads only chunks
//! whose counts differ. The counts are kept by stripe of
//! threads, each stripe's counts of every chunk on cache lines of their
//! own: the thread spawning tasks and the workers closing them do not
//! write one line by turns (beyond [`STRIPES`] busy threads, some share a
//! stripe), and a check reads all the counts, 8 KiB, in a microsecond or
//! so.
//!
//! A chunk reports every close it counted as a removal, whatever the item's
//! scope: as the first ring does, it cannot afford a count per scope.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use super::super::counts::Tally;
use super::super::ring::{Ring, Seen};
use super::super::thread;
use crate::scope::ScopeId;

/// Slots per chunk: 64 KiB of them.
const CHUNK: usize = 1024;
/// Chunks per table.
const CHUNKS: usize = 128;
/// Ids this part can hold apart: items whose ids differ by a multiple of it
/// share a slot.
pub(super) const SPAN: u64 = (CHUNK * CHUNKS) as u64;
/// Stripes of counts: threads whose numbers differ by a multiple of it
/// share one.
const STRIPES: usize = 8;

/// Chunks of slots, allocated as ids first fall in them, and their counts.
#[derive(Debug)]
pub(super) struct Wide {
    chunks: [OnceLock<Box<Ring<CHUNK>>>; CHUNKS],
    stripes: [Stripe; STRIPES],
}

/// The counts of the threads of one stripe, for every chunk, on cache
/// lines of their own (x86 fetches lines in pairs).
#[derive(Debug)]
#[repr(align(128))]
struct Stripe([Counts; CHUNKS]);

/// Opens and closes of one chunk so far (wrapping: a chunk cannot hold
/// anywhere near `u32::MAX` items, so the difference is still exact).
#[derive(Debug, Default)]
struct Counts {
    opens: AtomicU32,
    closes: AtomicU32,
}

impl Default for Wide {
    fn default() -> Wide {
        Wide {
            chunks: std::array::from_fn(|_| OnceLock::new()),
            stripes: std::array::from_fn(|_| Stripe(std::array::from_fn(|_| Counts::default()))),
        }
    }
}

/// The calling thread's stripe.
#[inline]
fn stripe() -> usize {
    thread::number() as usize % STRIPES
}

/// The chunk id `id`'s slot is in.
#[inline]
fn chunk_of(id: u64) -> usize {
    (id % SPAN) as usize / CHUNK
}

impl Wide {
    /// The counts of the calling thread's stripe for chunk `chunk`.
    #[inline]
    fn counts(&self, chunk: usize) -> &Counts {
        &self.stripes[stripe()].0[chunk]
    }

    /// Records item `seen.id` if its slot is free, allocating its chunk if
    /// need be; false if the slot is taken.
    #[inline]
    pub(super) fn insert(&self, seen: &Seen) -> bool {
        let n = chunk_of(seen.id);
        let chunk = self.chunks[n].get_or_init(|| Box::new(Ring::sized()));
        // Counted before the item can be found, so before anyone closes it:
        // a check's counts never show a close without its open.
        chunk.insert_counted(seen, || {
            self.counts(n).opens.fetch_add(1, Ordering::Release);
        })
    }

    /// The scope of item `id`, if its slot holds it.
    #[inline]
    pub(super) fn scope(&self, id: u64) -> Option<ScopeId> {
        self.chunks[chunk_of(id)].get()?.scope(id)
    }

    /// Removes item `id` if its slot holds it; false if not.
    #[inline]
    pub(super) fn remove(&self, id: u64) -> bool {
        let n = chunk_of(id);
        let Some(chunk) = self.chunks[n].get() else {
            return false;
        };
        // Counted before the slot is freed, as the ring's own removal count
        // is (see `registry::quiet`).
        chunk.remove_counted(id, |_| {
            self.counts(n).closes.fetch_add(1, Ordering::Release);
        })
    }

    /// Removes every item, counting each as a removal. No open may run at
    /// the same time (the table is being retired).
    pub(super) fn clear(&self) {
        for (n, chunk) in self.allocated() {
            chunk.clear_counted(|_| {
                self.counts(n).closes.fetch_add(1, Ordering::Release);
            });
        }
    }

    /// Closes so far (wrapping): how busy this part is, for the clock thread.
    pub(super) fn removals(&self) -> u64 {
        let closes = self.sums(|counts| &counts.closes);
        closes.into_iter().map(u64::from).fold(0, u64::wrapping_add)
    }

    /// What this part holds of `scopes`: the items of chunks whose counts
    /// say something may be open (see [`busy`](Self::busy)), and every close
    /// counted.
    pub(super) fn tally(&self, scopes: &[ScopeId]) -> Tally {
        let (closes, busy) = self.busy();
        let mut tally = Tally::default();
        for (n, chunk) in self.allocated() {
            // For a chunk found empty, its count of closes read then will
            // do. A busy one's is read again after its slots: an item
            // closed while they were read is counted (see
            // `registry::quiet`).
            let closes = if busy[n] {
                tally.open += chunk.tally(scopes).open;
                self.sum(n, |counts| &counts.closes)
            } else {
                closes[n]
            };
            tally.removed = tally.removed.wrapping_add(u64::from(closes));
        }
        tally
    }

    /// Calls `f` with every live item.
    pub(super) fn for_each(&self, f: &mut impl FnMut(&Seen)) {
        let (_, busy) = self.busy();
        for (_, chunk) in self.allocated().filter(|(n, _)| busy[*n]) {
            chunk.for_each(f);
        }
    }

    /// The chunks allocated so far, by number. Chunks not allocated have
    /// no counts.
    fn allocated(&self) -> impl Iterator<Item = (usize, &Ring<CHUNK>)> {
        let chunks = self.chunks.iter().enumerate();
        chunks.filter_map(|(n, chunk)| Some((n, &**chunk.get()?)))
    }

    /// Each chunk's count of closes, and whether it may hold an item: its
    /// opens and closes differ.
    ///
    /// Closes are read before opens. Every close read was counted after its
    /// item's open (which came before the item could be found, and so
    /// before anyone could close it), and reading the close (acquire) makes
    /// that open visible to the read of the opens that follows. So a
    /// chunk's opens minus its closes is at least the items open in it when
    /// its opens are read, and equal counts mean none was.
    fn busy(&self) -> ([u32; CHUNKS], [bool; CHUNKS]) {
        let closes = self.sums(|counts| &counts.closes);
        let opens = self.sums(|counts| &counts.opens);
        (closes, std::array::from_fn(|n| opens[n] != closes[n]))
    }

    /// Chunk `n`'s sum (wrapping) of one count over the stripes.
    #[inline]
    fn sum(&self, n: usize, count: fn(&Counts) -> &AtomicU32) -> u32 {
        let counts = self.stripes.iter().map(|s| count(&s.0[n]).load(Ordering::Acquire));
        counts.fold(0, u32::wrapping_add)
    }

    /// [`sum`](Self::sum) for every chunk.
    fn sums(&self, count: fn(&Counts) -> &AtomicU32) -> [u32; CHUNKS] {
        std::array::from_fn(|n| self.sum(n, count))
    }

    /// Chunks allocated so far.
    #[cfg(test)]
    fn chunks(&self) -> usize {
        self.allocated().count()
    }
}

#[cfg(test)]
mod tests {
    use super::{CHUNK, CHUNKS, SPAN, Wide, chunk_of};
    use crate::registry::ring::tests::seen;
    use crate::scope::ScopeId;

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

        // Every chunk but the last empties, closed on another thread (whose
        // counts are another stripe's): only the last one is read.
        let (last, rest) = ids.split_last().unwrap();
        std::thread::scope(|threads| {
            threads.spawn(|| assert!(rest.iter().all(|&id| wide.remove(id))));
        });
        let (_, busy) = wide.busy();
        let read: Vec<usize> = (0..CHUNKS).filter(|&n| busy[n]).collect();
        assert_eq!(read, [chunk_of(*last)]);
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
                    for n in 0..5_000u64 {
                        let id = loop {
                            let id = baton.load(Ordering::Acquire);
                            if id % 2 == runner && id != u64::MAX {
                                break id;
                            }
                            std::thread::yield_now();
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
