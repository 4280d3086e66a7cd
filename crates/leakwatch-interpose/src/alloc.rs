//! A global allocator wrapper that counts live blocks and bytes per scope.
//!
//! In builds where tracking is compiled out (`leakwatch_core::COMPILED_IN`
//! is false) it hands every call straight to the wrapped allocator.
//!
//! Each block carries a small header, just before the pointer handed out,
//! holding the scope that was current when it was allocated; freeing it
//! (from any thread) subtracts from that scope. The header is
//! `max(align, 8)` bytes, so the block stays aligned as its layout asks.
//!
//! # Counting without contention
//!
//! A count is one word per scope: live blocks × 2^36 + live bytes, added
//! with wrapping arithmetic, so a scope may hold up to 268 million blocks
//! and 64 GiB at once. Each thread adds to its own *shard* of such words,
//! with a plain load and store (no read-modify-write, no shared cache
//! line); a block freed on another thread subtracts in that thread's shard.
//! A scope's count is the wrapping sum of its words in every shard and in
//! a global table. When a thread ends, its shard is folded into the global
//! table (atomic adds) and freed for the next thread; readers retry if a
//! fold ran while they summed. Threads beyond the shards, a shard's
//! scopes beyond its words, and the end of a thread after its shard is
//! folded, add to the global table directly. Nothing here allocates.
//!
//! Blocks allocated outside every scope are not counted. The global table
//! holds 65,536 scopes; a process that has had more allocating scopes
//! loses count of the newest, and [`heap_in`] then answers `None` for them
//! rather than a wrong number.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use leakwatch_core::ScopeId;

const HEADER: usize = size_of::<u64>();
const BLOCK: u64 = 1 << 36;
const BYTES_MASK: u64 = BLOCK - 1;
const SLOTS: usize = 1 << 16;
const PROBES: usize = 32;
const SHARDS: usize = 256;
const WORDS: usize = 32;

/// A scope's word, in a shard or the global table.
struct Counter {
    /// The scope's id, 0 while free.
    scope: AtomicU64,
    /// Live blocks × 2^36 + live bytes (wrapping; a shard's own part may
    /// be "negative").
    packed: AtomicU64,
}

impl Counter {
    const fn new() -> Counter {
        Counter {
            scope: AtomicU64::new(0),
            packed: AtomicU64::new(0),
        }
    }
}

static COUNTERS: [Counter; SLOTS] = [const { Counter::new() }; SLOTS];
/// A scope that found no free global slot allocated since.
static OVERFLOWED: AtomicBool = AtomicBool::new(false);
static INSTALLED: AtomicBool = AtomicBool::new(false);

struct Shard {
    taken: AtomicBool,
    words: [Counter; WORDS],
}

static SHARDS_: [Shard; SHARDS] = [const {
    Shard {
        taken: AtomicBool::new(false),
        words: [const { Counter::new() }; WORDS],
    }
}; SHARDS];
/// Folds begun and finished: a reader whose sum saw them differ, or change,
/// sums again.
static FOLDS_BEGUN: AtomicU64 = AtomicU64::new(0);
static FOLDS_DONE: AtomicU64 = AtomicU64::new(0);

#[inline]
fn home(scope: u64) -> usize {
    (scope.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 48) as usize
}

/// The global counter of `scope`, claiming a slot on first use.
#[inline]
fn counter(scope: u64, claim: bool) -> Option<&'static AtomicU64> {
    let h = home(scope);
    for k in 0..PROBES {
        let c = &COUNTERS[(h + k) % SLOTS];
        let key = c.scope.load(Ordering::Acquire);
        if key == scope {
            return Some(&c.packed);
        }
        if key == 0 {
            if !claim {
                return None;
            }
            match c
                .scope
                .compare_exchange(0, scope, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Some(&c.packed),
                Err(now) if now == scope => return Some(&c.packed),
                Err(_) => {}
            }
        }
    }
    if claim {
        OVERFLOWED.store(true, Ordering::Relaxed);
    }
    None
}

#[inline(never)]
fn global_add(scope: u64, delta: u64) {
    if let Some(c) = counter(scope, true) {
        c.fetch_add(delta, Ordering::Relaxed);
    }
}

// The calling thread's shard. The hot path reads only destructor-free
// cells; `FOLD_AT_EXIT`, touched once when the shard is taken, folds it
// when the thread ends.
thread_local! {
    /// The shard, null before the first counted allocation and after the
    /// fold. A thread that found no free shard keeps it null.
    static SHARD: Cell<*const Shard> = const { Cell::new(std::ptr::null()) };
    /// Whether a shard was looked for already.
    static LOOKED: Cell<bool> = const { Cell::new(false) };
    /// The scope counted last and its word in `SHARD`: the fast path.
    /// Scope 0 is never counted, so the initial entry never matches.
    static HOT: Cell<(u64, &'static AtomicU64)> = const { Cell::new((0, &UNUSED)) };
    static FOLD_AT_EXIT: FoldAtExit = const { FoldAtExit };
}

/// What `HOT` points at when it points at no shard.
static UNUSED: AtomicU64 = AtomicU64::new(0);

/// Adds `delta` to `scope`'s word in the calling thread's shard; false if
/// it has none (or the shard has no word to spare).
#[inline(always)]
fn add_mine(scope: u64, delta: u64) -> bool {
    let (hot, word) = HOT.get();
    if hot == scope {
        // Only this thread writes its shard's words: a load and a store
        // suffice, and readers see either value.
        word.store(
            word.load(Ordering::Relaxed).wrapping_add(delta),
            Ordering::Relaxed,
        );
        return true;
    }
    add_mine_slow(scope, delta)
}

#[inline(never)]
fn add_mine_slow(scope: u64, delta: u64) -> bool {
    mark_installed();
    let mut shard = SHARD.get();
    if shard.is_null() {
        if LOOKED.replace(true) {
            return false;
        }
        match take_shard() {
            Some(taken) => {
                // Registers the fold before the shard is used; if this
                // thread is already past its destructors, give it back.
                if FOLD_AT_EXIT.try_with(|_| ()).is_err() {
                    taken.taken.store(false, Ordering::Release);
                    return false;
                }
                shard = taken;
                SHARD.set(shard);
            }
            None => return false,
        }
    }
    // SAFETY: a non-null `SHARD` points into the static `SHARDS_`.
    let shard: &'static Shard = unsafe { &*shard };
    let Some(i) = find(shard, scope) else {
        return false;
    };
    let word = &shard.words[i].packed;
    HOT.set((scope, word));
    word.store(
        word.load(Ordering::Relaxed).wrapping_add(delta),
        Ordering::Relaxed,
    );
    true
}

#[inline]
fn mark_installed() {
    if !INSTALLED.load(Ordering::Relaxed) {
        INSTALLED.store(true, Ordering::Relaxed);
    }
}

/// Folds the thread's shard into the global table when the thread ends.
struct FoldAtExit;

impl Drop for FoldAtExit {
    fn drop(&mut self) {
        // The fast path must not write to a shard given back.
        HOT.set((0, &UNUSED));
        let shard = SHARD.replace(std::ptr::null());
        if shard.is_null() {
            return;
        }
        // SAFETY: a non-null `SHARD` points into the static `SHARDS_`.
        let shard = unsafe { &*shard };
        FOLDS_BEGUN.fetch_add(1, Ordering::SeqCst);
        for w in &shard.words {
            let packed = w.packed.load(Ordering::Relaxed);
            if packed != 0 {
                global_add(w.scope.load(Ordering::Relaxed), packed);
            }
            w.packed.store(0, Ordering::Relaxed);
            w.scope.store(0, Ordering::Relaxed);
        }
        FOLDS_DONE.fetch_add(1, Ordering::SeqCst);
        shard.taken.store(false, Ordering::Release);
    }
}

#[cold]
fn take_shard() -> Option<&'static Shard> {
    SHARDS_.iter().find(|s| {
        !s.taken.load(Ordering::Relaxed)
            && s.taken
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
    })
}

/// The index of `scope`'s word in `shard` (owned by the caller), giving it
/// a free word, or one whose count is back to zero, if it has none.
#[inline(never)]
fn find(shard: &Shard, scope: u64) -> Option<usize> {
    let h = home(scope) % WORDS;
    let mut reusable = None;
    for k in 0..WORDS {
        let i = (h + k) % WORDS;
        let w = &shard.words[i];
        let key = w.scope.load(Ordering::Relaxed);
        if key == scope {
            return Some(i);
        }
        if reusable.is_none() && (key == 0 || w.packed.load(Ordering::Relaxed) == 0) {
            reusable = Some(i);
        }
    }
    let i = reusable?;
    // A word at zero adds nothing to its old scope's sum, so readers may
    // see it under either key.
    shard.words[i].scope.store(scope, Ordering::Relaxed);
    Some(i)
}

/// Live heap blocks and bytes charged to a set of scopes.
///
/// ```
/// let scope = leakwatch_core::Scope::new("s");
/// if let Some(heap) = leakwatch_interpose::heap_in(&[scope.id()]) {
///     assert_eq!(heap, leakwatch_interpose::Heap::default());
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
/// [`Counting`] one (or one of `scopes` lost its count, see the module
/// docs).
///
/// ```
/// // Without `#[global_allocator] static A: Counting<System> = ...`:
/// assert_eq!(leakwatch_interpose::heap_in(&[leakwatch_core::Scope::new("s").id()]), None);
/// ```
pub fn heap_in(scopes: &[ScopeId]) -> Option<Heap> {
    if !INSTALLED.load(Ordering::Relaxed) {
        return None;
    }
    loop {
        let begun = FOLDS_BEGUN.load(Ordering::SeqCst);
        let done = FOLDS_DONE.load(Ordering::SeqCst);
        let mut total = 0u64;
        for scope in scopes {
            let scope = scope.as_u64();
            match counter(scope, false) {
                Some(c) => total = total.wrapping_add(c.load(Ordering::Relaxed)),
                // Never counted globally, or lost its count.
                None if OVERFLOWED.load(Ordering::Relaxed) => return None,
                None => {}
            }
            for shard in &SHARDS_ {
                for w in &shard.words {
                    if w.scope.load(Ordering::Relaxed) == scope {
                        total = total.wrapping_add(w.packed.load(Ordering::Relaxed));
                    }
                }
            }
        }
        if begun == done && FOLDS_BEGUN.load(Ordering::SeqCst) == begun {
            return Some(Heap {
                blocks: total >> 36,
                bytes: total & BYTES_MASK,
            });
        }
        std::hint::spin_loop();
    }
}

/// Wraps a [`GlobalAlloc`] to count live blocks and bytes per scope.
///
/// ```
/// use leakwatch_interpose::Counting;
///
/// #[global_allocator]
/// static A: Counting<std::alloc::System> = Counting::new(std::alloc::System);
///
/// let scope = leakwatch_core::Scope::new("s");
/// let kept = scope.run(|| vec![0u8; 100]);
/// // `None` where tracking is compiled out (release builds).
/// if let Some(heap) = leakwatch_interpose::heap_in(&[scope.id()]) {
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
    /// static A: leakwatch_interpose::Counting<std::alloc::System> =
    ///     leakwatch_interpose::Counting::new(std::alloc::System);
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
        global_add(scope, delta);
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
