//! A record of fixed size that one thread writes and any thread reads: a
//! sequence lock over atomic words.
//!
//! Every word is an atomic, so readers racing a writer read torn values but
//! never undefined ones; the sequence number tells them to retry. Writers
//! exclude each other by making the sequence odd. Nothing here allocates or
//! blocks on the kernel, so it is safe inside an interposed libc call, a
//! forked child, or a thread being torn down.

use std::hint::spin_loop;
use std::sync::atomic::{AtomicU64, Ordering, fence};

/// `W` words published together.
pub(crate) struct Slot<const W: usize> {
    /// Even: stable. Odd: a writer holds the slot.
    seq: AtomicU64,
    words: [AtomicU64; W],
}

impl<const W: usize> Slot<W> {
    pub(crate) const fn new() -> Self {
        Slot {
            seq: AtomicU64::new(0),
            words: [const { AtomicU64::new(0) }; W],
        }
    }

    /// Takes the slot for writing, waiting for another writer to finish.
    ///
    /// Writers hold a slot for a handful of stores, so waiting spins.
    #[inline]
    pub(crate) fn lock(&self) -> Guard<'_, W> {
        let mut seq = self.seq.load(Ordering::Relaxed);
        loop {
            if seq.is_multiple_of(2) {
                match self.seq.compare_exchange_weak(
                    seq,
                    seq + 1,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => break,
                    Err(now) => seq = now,
                }
            } else {
                spin_loop();
                seq = self.seq.load(Ordering::Relaxed);
            }
        }
        // Orders the odd sequence before the stores of the words, so a
        // reader that sees a new word also sees the odd (or a later) number.
        fence(Ordering::Release);
        Guard { slot: self, seq }
    }

    /// A consistent copy of the words, retried while a writer is active.
    #[inline]
    pub(crate) fn read(&self) -> [u64; W] {
        loop {
            let before = self.seq.load(Ordering::Acquire);
            if !before.is_multiple_of(2) {
                spin_loop();
                continue;
            }
            let words = std::array::from_fn(|i| self.words[i].load(Ordering::Relaxed));
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == before {
                return words;
            }
        }
    }

    /// One word, read on its own (no consistency with the others): for
    /// scans that look at one field before reading the whole record.
    #[inline]
    pub(crate) fn peek(&self, i: usize) -> u64 {
        self.words[i].load(Ordering::Relaxed)
    }
}

/// Write access to a slot; the words are published when it drops.
pub(crate) struct Guard<'a, const W: usize> {
    slot: &'a Slot<W>,
    seq: u64,
}

impl<const W: usize> Guard<'_, W> {
    #[inline]
    pub(crate) fn get(&self, i: usize) -> u64 {
        self.slot.words[i].load(Ordering::Relaxed)
    }

    #[inline]
    pub(crate) fn set(&self, i: usize, value: u64) {
        self.slot.words[i].store(value, Ordering::Relaxed);
    }
}

impl<const W: usize> Drop for Guard<'_, W> {
    #[inline]
    fn drop(&mut self) {
        self.slot.seq.store(self.seq + 2, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn a_write_is_read_whole() {
        let slot = Slot::<3>::new();
        assert_eq!(slot.read(), [0, 0, 0]);
        {
            let g = slot.lock();
            g.set(0, 7);
            g.set(2, 9);
            assert_eq!(g.get(2), 9);
        }
        assert_eq!(slot.read(), [7, 0, 9]);
        assert_eq!(slot.peek(0), 7);
    }

    /// Readers racing writers never see a mix of two writes.
    #[test]
    fn readers_never_see_torn_records() {
        static SLOT: Slot<8> = Slot::new();
        static STOP: AtomicBool = AtomicBool::new(false);
        std::thread::scope(|s| {
            for w in 0..2u64 {
                s.spawn(move || {
                    let mut n = w * 1_000_000_000;
                    while !STOP.load(Ordering::Relaxed) {
                        let g = SLOT.lock();
                        for i in 0..8 {
                            g.set(i, n);
                        }
                        n += 1;
                    }
                });
            }
            for _ in 0..200_000 {
                let words = SLOT.read();
                assert!(words.iter().all(|&x| x == words[0]), "{words:?}");
            }
            STOP.store(true, Ordering::Relaxed);
        });
    }
}
