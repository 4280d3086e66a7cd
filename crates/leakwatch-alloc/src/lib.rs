//! A global allocator wrapper that counts live blocks and bytes per
//! leakwatch scope.
//!
//! [`Counting`] wraps the allocator a program would use anyway; each block
//! is charged to the scope ([`ScopeId::current`]) current when it was
//! allocated, and [`heap_in`] answers what a set of scopes still holds. It
//! needs only `leakwatch-core` and std, so it works on every platform,
//! whether or not libc's functions are interposed. `leakwatch::alloc` is
//! the path for test authors; `leakwatch::hunt` judges these counts round
//! by round, and a failing check notes them.
//!
//! ```
//! use leakwatch_alloc::Counting;
//!
//! #[global_allocator]
//! static A: Counting<std::alloc::System> = Counting::new(std::alloc::System);
//!
//! let scope = leakwatch_core::Scope::new("cache");
//! let kept = scope.run(|| Box::new([0u8; 48]));
//! if leakwatch_core::COMPILED_IN {
//!     let heap = leakwatch_alloc::heap_in(&[scope.id()]).expect("installed above");
//!     assert_eq!((heap.blocks, heap.bytes), (1, 48));
//! }
//! drop(kept);
//! ```
//!
//! In builds where tracking is compiled out (`leakwatch_core::COMPILED_IN`
//! is false: release builds without the `production` feature) it hands
//! every call straight to the wrapped allocator, and [`heap_in`] answers
//! `None`.
//!
//! # Blocks and headers
//!
//! Each block carries a small header, just before the pointer handed out,
//! holding the scope that was current when it was allocated; freeing it
//! (from any thread) subtracts from that scope. The header is
//! `max(align, 8)` bytes, so the block stays aligned as its layout asks.
//! Blocks allocated outside every scope are not counted. The allocation
//! path allocates nothing, takes no lock and never waits for another
//! thread; only [`heap_in`] may wait, for a move under way to finish.
//!
//! # Counting without contention
//!
//! A count is one word per scope: live blocks × 2^36 + live bytes, added
//! with wrapping arithmetic, so a scope may hold up to 268 million blocks
//! and 64 GiB at once. Each thread adds to its own *shard* of 32 such
//! words, with a plain load and store (no read-modify-write, no shared
//! cache line); a block freed on another thread subtracts in that thread's
//! shard. A scope's count is the wrapping sum of its words in every shard
//! and of its slots in a global table of 65,536.
//!
//! # Taking words and slots back
//!
//! A block allocated on thread A and freed on thread B leaves the scope's
//! word in A's shard at +x and in B's at −x: the count is zero, yet
//! neither word is. A word whose own part is zero is given to the next
//! scope that needs one; when none is, the thread *evicts* a word (round
//! robin): it adds the word's value to the global table and gives the word
//! to the new scope. The parts of a count meet in the global table, and a
//! slot whose count comes back to zero is freed. So a thread never runs
//! out of words, and the global table holds the scopes with live blocks,
//! at most one slot per shard word (256 × 32) whose other parts still sit
//! in shards, and slots at zero that a claim may free. Threads beyond the 256 shards, and a thread's last frees
//! after its shard was folded at its end, add to the global table
//! directly.
//!
//! A scope that finds neither its slot nor a free one among the 32 it may
//! use *loses* its count: it is written to a table of 64 lost scopes, and
//! [`heap_in`] answers `None` for it (for every scope, once 64 are lost)
//! rather than a wrong number; its slots may stay claimed. Other scopes
//! keep counting. An eviction never loses a count: a word whose value finds
//! no room stays, and the new scope's change goes to the global table.
//!
//! # Protocol
//!
//! Who writes what, stated once for this file:
//!
//! - A shard word's value: only the thread that took the shard, with a
//!   load and a `Release` store. Its scope: only that thread, and only
//!   inside a *move*.
//! - A global slot's value: any thread, with an atomic add, only while
//!   *pinned* on the slot (its `pins` raised) and after seeing the slot's
//!   scope be its own, re-read after pinning.
//! - A global slot's scope: 0 → scope by compare-exchange (a claim);
//!   scope → `RETIRING` → 0, or back to scope if the slot is pinned or
//!   not at zero, only inside a move (freeing it).
//!
//! A move is bracketed by `MOVES`' begun and done counts: taking a shard
//! word for another scope (and, when evicting, adding its value to the
//! global table), folding a shard at its thread's end, freeing a global
//! slot. [`heap_in`] sums the shards and slots of its scopes, and keeps
//! the sum only if no move ran meanwhile (begun equal to done before it,
//! begun unchanged after it), a seqlock read; otherwise it sums again.
//!
//! Why a sum kept is exact: outside moves, each part of a count sits in
//! exactly one place (a word or a slot with that scope), and only its
//! value changes, so a sum sees each part once, old or new. (The parts are
//! read one after another, so a block allocated on one thread and freed on
//! another while a sum runs may be seen freed and not allocated, or the
//! reverse: a count is exact once the scope's blocks are not changing.) A part that
//! moves (eviction, fold), a word or slot that changes scope, is inside a
//! move, which the sum either saw begun and retried, or did not overlap.
//! A `Release` store after a move that a sum reads makes the sum's last
//! look at begun see that move (the sum's `Acquire` fence pairs with it).
//!
//! Why a freed slot loses nothing: a thread adding to a slot raises its
//! pins, then reads its scope; the freer swaps the scope to `RETIRING`,
//! then reads the pins and the value (all sequentially consistent). Either
//! the freer sees the pin, and puts the scope back, or the adder sees
//! `RETIRING` (or the slot's next scope), and looks for its scope's slot
//! again, claiming another if it must. A scope may so hold two slots for
//! a while; adders use the first they find and readers sum all of them.
//!
//! Why a sum ends: a reader raises `MOVES`' readers first, and while any
//! reader is summing, moves that can wait do (one that counted itself
//! begun and then saw the reader takes its count back, having changed
//! nothing): a thread that would take or
//! evict a word adds to the global table instead, and a slot at zero stays
//! claimed (until a scope finds no free slot: it frees the slots at zero
//! among those it may use, then claims one). Only moves begun before the
//! reader announced itself, folds at threads' ends and those last-resort
//! frees can make it sum again.
//!
//! This crate has no loom build (its state is process statics and thread
//! locals under a global allocator), so the protocol is checked by a
//! stress test in `tests/heap.rs`: threads free each other's blocks over
//! more scopes than their words, evicting words of a scope whose count
//! does not change meanwhile, and a reader asserts that count exactly
//! (it fails with moves unguarded).

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::Ordering;

use leakwatch_core::ScopeId;

mod table;

use table::*;

/// Live heap blocks and bytes charged to a set of scopes.
///
/// ```
/// let scope = leakwatch_core::Scope::new("s");
/// if let Some(heap) = leakwatch_alloc::heap_in(&[scope.id()]) {
///     assert_eq!(heap, leakwatch_alloc::Heap::default());
/// }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Heap {
    /// Live blocks.
    pub blocks: u64,
    /// Their bytes, as requested (headers not included).
    pub bytes: u64,
}

/// The live heap of `scopes`, or `None` when the global allocator is not a
/// [`Counting`] one (or one of `scopes` lost its count, see the crate
/// docs).
///
/// ```
/// // Without `#[global_allocator] static A: Counting<System> = ...`:
/// assert_eq!(leakwatch_alloc::heap_in(&[leakwatch_core::Scope::new("s").id()]), None);
/// ```
pub fn heap_in(scopes: &[ScopeId]) -> Option<Heap> {
    if !INSTALLED.load(Ordering::Relaxed) {
        return None;
    }
    let total = MOVES.read(|| {
        let mut total = 0u64;
        for scope in scopes.iter().map(|s| s.as_u64()).filter(|&s| s != 0) {
            // A scope may hold more than one slot (see "# Protocol").
            for slot in probes(scope) {
                if slot.scope.load(Ordering::Relaxed) == scope {
                    total = total.wrapping_add(slot.packed.load(Ordering::Relaxed));
                }
            }
            // A free shard's words are all free (its fold cleared them).
            for shard in SHARDS_.iter().filter(|s| s.taken.load(Ordering::Acquire)) {
                for w in &shard.words {
                    if w.scope.load(Ordering::Relaxed) == scope {
                        total = total.wrapping_add(w.packed.load(Ordering::Relaxed));
                    }
                }
            }
        }
        total
    });
    if scopes.iter().any(|s| lost(s.as_u64())) {
        return None;
    }
    Some(Heap {
        blocks: total >> 36,
        bytes: total & BYTES_MASK,
    })
}

/// Wraps a [`GlobalAlloc`] to count live blocks and bytes per scope.
///
/// ```
/// use leakwatch_alloc::Counting;
///
/// #[global_allocator]
/// static A: Counting<std::alloc::System> = Counting::new(std::alloc::System);
///
/// let scope = leakwatch_core::Scope::new("s");
/// let kept = scope.run(|| vec![0u8; 100]);
/// // `None` where tracking is compiled out (release builds).
/// if let Some(heap) = leakwatch_alloc::heap_in(&[scope.id()]) {
///     assert_eq!((heap.blocks, heap.bytes), (1, 100));
/// }
/// drop(kept);
/// ```
#[derive(Debug, Default)]
pub struct Counting<A> {
    inner: A,
}

impl<A> Counting<A> {
    /// Wraps `inner`.
    ///
    /// ```
    /// static A: leakwatch_alloc::Counting<std::alloc::System> =
    ///     leakwatch_alloc::Counting::new(std::alloc::System);
    /// ```
    pub const fn new(inner: A) -> Counting<A> {
        Counting { inner }
    }
}

/// The header's size for `align`, and the layout asked of the inner
/// allocator; `None` if the grown size overflows.
#[inline]
fn outer(layout: Layout) -> Option<(usize, Layout)> {
    let head = layout.align().max(HEADER);
    let size = layout.size().checked_add(head)?;
    if size > isize::MAX as usize - (head - 1) {
        return None;
    }
    // SAFETY: `head` is a power of two (an alignment, or 8), and `size`
    // rounded up to it does not exceed `isize::MAX` (checked above).
    Some((head, unsafe {
        Layout::from_size_align_unchecked(size, head)
    }))
}

/// [`outer`] for a layout a block was allocated with, which passed its
/// checks then.
#[inline(always)]
fn allocated(layout: Layout) -> (usize, Layout) {
    let head = layout.align().max(HEADER);
    // SAFETY: `alloc` computed this same layout through `outer`, whose
    // checks it passed: `head` is a power of two and the size is in range.
    (head, unsafe {
        Layout::from_size_align_unchecked(layout.size() + head, head)
    })
}

/// Adds `delta` (wrapping) to `scope`'s count.
#[inline]
fn charge(scope: u64, delta: u64) {
    if scope == 0 {
        mark_installed();
        return;
    }
    if !add_mine(scope, delta) {
        global_charge(scope, delta);
    }
}

impl<A: GlobalAlloc> Counting<A> {
    /// Writes the header before a block the inner allocator returned.
    ///
    /// # Safety
    /// `base` is null or a block of the inner allocator of at least
    /// `head` bytes, aligned to `head` (a multiple of 8).
    #[inline(always)]
    unsafe fn finish(&self, base: *mut u8, head: usize, size: usize) -> *mut u8 {
        if base.is_null() {
            return base;
        }
        let scope = ScopeId::current().as_u64();
        charge(scope, BLOCK + size as u64);
        // SAFETY: `head <= ` the block's size, so `base + head` is within
        // or one past the block, and `base + head - 8` is 8-aligned and
        // inside the block's first `head` bytes.
        unsafe {
            let user = base.add(head);
            user.sub(HEADER).cast::<u64>().write(scope);
            user
        }
    }
}

// SAFETY: every block handed out is a block of `inner`, grown by a header
// in front, with the layout `outer` computes from the caller's; `dealloc`
// and `realloc` recompute that same layout from the caller's and hand
// `inner` back the block's start. So `inner`'s contract is met whenever the
// caller meets `GlobalAlloc`'s, and the caller's pointer is aligned to its
// layout because the header's size is a multiple of that alignment.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !leakwatch_core::COMPILED_IN {
            // SAFETY: the caller's layout, as `GlobalAlloc` requires.
            return unsafe { self.inner.alloc(layout) };
        }
        let Some((head, outer)) = outer(layout) else {
            return std::ptr::null_mut();
        };
        // SAFETY: `outer` has a non-zero size (at least the header).
        let base = unsafe { self.inner.alloc(outer) };
        // SAFETY: `base` is null or a block of `outer`, aligned to `head`.
        unsafe { self.finish(base, head, layout.size()) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !leakwatch_core::COMPILED_IN {
            // SAFETY: the caller's layout, as `GlobalAlloc` requires.
            return unsafe { self.inner.alloc_zeroed(layout) };
        }
        let Some((head, outer)) = outer(layout) else {
            return std::ptr::null_mut();
        };
        // SAFETY: as in `alloc`.
        let base = unsafe { self.inner.alloc_zeroed(outer) };
        // SAFETY: as in `alloc`.
        unsafe { self.finish(base, head, layout.size()) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !leakwatch_core::COMPILED_IN {
            // SAFETY: `ptr` came from `inner` with `layout` (compiled out,
            // `alloc` hands out `inner`'s blocks unchanged).
            return unsafe { self.inner.dealloc(ptr, layout) };
        }
        let (head, outer) = allocated(layout);
        // SAFETY: `ptr` came from `alloc` with this `layout`, so it is
        // `head` bytes into a block of `outer` whose header `finish` wrote.
        let (base, scope) = unsafe {
            let base = ptr.sub(head);
            (base, ptr.sub(HEADER).cast::<u64>().read())
        };
        charge(scope, (BLOCK + layout.size() as u64).wrapping_neg());
        // SAFETY: `base` is the block `inner` returned for `outer`.
        unsafe { self.inner.dealloc(base, outer) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !leakwatch_core::COMPILED_IN {
            // SAFETY: as in `dealloc`, with the caller's `new_size`.
            return unsafe { self.inner.realloc(ptr, layout, new_size) };
        }
        let Some((head, outer)) = outer(layout) else {
            return std::ptr::null_mut();
        };
        let Some(new_outer) = new_size.checked_add(head) else {
            return std::ptr::null_mut();
        };
        if Layout::from_size_align(new_outer, head).is_err() {
            return std::ptr::null_mut();
        }
        // SAFETY: as in `dealloc`.
        let (base, scope) = unsafe { (ptr.sub(head), ptr.sub(HEADER).cast::<u64>().read()) };
        // SAFETY: `base` is the block `inner` returned for `outer`, and
        // `new_outer` rounded to `head` does not overflow (checked above).
        // The header moves with the block's contents.
        let moved = unsafe { self.inner.realloc(base, outer, new_outer) };
        if moved.is_null() {
            return moved;
        }
        charge(scope, (new_size as u64).wrapping_sub(layout.size() as u64));
        // SAFETY: the new block is at least `head` bytes long.
        unsafe { moved.add(head) }
    }
}
