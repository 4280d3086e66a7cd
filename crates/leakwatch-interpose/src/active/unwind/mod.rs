//! The calling thread's return addresses, unwound with framehop from the
//! DWARF call frame information (`.eh_frame`) of the loaded objects, read in
//! place.
//!
//! libgcc's unwinder (behind `backtrace::trace_unsynchronized` and glibc's
//! `backtrace()`) finds, for every frame, the object holding the address
//! (`dl_iterate_phdr` under the loader's lock), searches its
//! `.eh_frame_hdr`, and interprets the frame's CFI program from the start,
//! about ten times what this walker takes (`benches/unwind.rs`; the
//! figures are in BENCHMARKS.md). Each frame's rule is derived once per return address and kept, so
//! a stack that passes through the same call sites again (the common case:
//! the same test opening files in a loop) costs a table probe and a load or
//! two per frame. Debug builds of dependencies keep no frame pointers, so a
//! frame-pointer walk would stop in the first of them; CFI covers every
//! frame.
//!
//! # Rules
//!
//! On x86_64 the rules are kept in [`Rules`], an open-addressed table of
//! 4,096 entries keyed by return address, each rule one word: the CFA as
//! `rsp` or `rbp` plus an offset, `rbp` unchanged or saved at an offset from
//! the CFA, the return address at CFA − 8, or the stack's end. A rule is
//! derived from the row gimli evaluates for the address in the object's
//! `.eh_frame`, the translation framehop makes for its own cache. framehop's
//! cache is direct-mapped over 509 slots, so of the 60 or so frames under a
//! hook a few share a slot and evict each other, and each of those costs a
//! fresh CFI evaluation on every capture; a table that probes on holds them
//! all. A row of another shape (a CFA expression: PLT stubs, signal
//! frames), or an address without an FDE, is marked as such and that frame
//! is unwound by framehop, which knows those cases. An address outside
//! every listed object's code is kept as such too, so that neither the
//! object lookup nor the CFI evaluation runs twice for one address. On
//! aarch64 every frame is framehop's.
//!
//! # Objects
//!
//! `dl_iterate_phdr` lists the loaded objects. Each one's
//! `PT_GNU_EH_FRAME` segment is its `.eh_frame_hdr`, whose `eh_frame_ptr`
//! gives where `.eh_frame` starts; `.eh_frame` is handed over up to the end
//! of the `PT_LOAD` segment holding it, which is mapped. framehop borrows
//! both straight from memory (`&'static [u8]`), so nothing is read from
//! files, and they stay valid while the object stays loaded: each capture
//! compares the loader's counts of objects added and removed (`dlpi_adds`,
//! `dlpi_subs`) with those the list was built at, and builds it again when
//! they differ, before reading any section. (An object unloaded by another
//! thread in the middle of a walk is read no more safely than libgcc reads
//! it, which also runs CFI after releasing the loader's lock; a walk only
//! reads the objects whose code is on its stack, which a correct program
//! does not unload.) A return address outside every listed object's code
//! ends the walk.
//!
//! # Never waiting, never allocating
//!
//! A capture runs inside a hook, which may run in any thread at any time
//! libc may be called. In steady state it allocates nothing
//! (`MustNotAllocateDuringUnwind`; the stack bounds are kept per thread in
//! a destructor-free cell) and takes no lock that it could wait on beyond
//! the loader's, for the counts (libgcc takes it for every frame): the
//! object list and the rule caches are taken with `try_read` and
//! `try_lock`, and a capture that finds them busy returns `None`, for the
//! caller to fall back to libgcc's walk. Only building the list allocates:
//! on the first capture, and again after a `dlopen` or `dlclose`, by one
//! thread at a time, charged to no scope. The objects are read inside
//! `dl_iterate_phdr`'s callback, under the loader's lock, into room
//! reserved before; the unwinder is built after, outside every lock, and
//! swapped in under the write lock, which waits only for walks under way
//! (no walk starts while a writer waits). A thread's first capture also
//! allocates: glibc's `pthread_getattr_np` does, for the thread's CPU set.
//!
//! # Stack reads
//!
//! framehop reads the stack through a callback that refuses any address
//! outside `[sp, top)` of the calling thread's stack
//! (`pthread_getattr_np`, asked once per thread), so a bad rule ends the
//! walk with an error instead of a fault. A capture whose `sp` lies outside
//! that stack (an alternate signal stack, a coroutine's) returns `None`.

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, TryLockError};

use framehop::{
    CacheNative, ExplicitModuleSectionInfo, FrameAddress, Module, MustNotAllocateDuringUnwind,
    UnwindRegsNative, Unwinder, UnwinderNative,
};
use leakwatch_core::ScopeId;

/// Section data borrowed from a loaded object's memory.
type Bytes = &'static [u8];
type Unwind = UnwinderNative<Bytes, MustNotAllocateDuringUnwind>;
type Cache = CacheNative<MustNotAllocateDuringUnwind>;

/// Walkers, each taken by one capture at a time: framehop's cache (33 KiB:
/// gimli's fixed-size CFI evaluation context, 25 KiB, and 509 cached
/// rules) and, on x86_64, a [`Rules`] (64 KiB of table, zero pages until
/// used). More captures at once than this fall back to libgcc's walk.
const CACHES: usize = 4;

/// What one capture holds while it walks.
struct Walker {
    framehop: Cache,
    #[cfg(target_arch = "x86_64")]
    rules: Rules,
}

/// What the loader has loaded and unloaded so far: `dlpi_adds`, `dlpi_subs`.
type Loaded = (u64, u64);

/// The loaded objects at one [`Loaded`], with their unwind sections.
struct Objects {
    loaded: Loaded,
    unwinder: Unwind,
    /// Every object's executable segments, sorted by start.
    code: Vec<Range<u64>>,
    /// Every object with unwind sections, sorted by where it starts.
    #[cfg(target_arch = "x86_64")]
    found: Vec<Found>,
    /// For deriving rules (see [`Rules`]): one for all walkers, as only a
    /// new return address needs it.
    #[cfg(target_arch = "x86_64")]
    context: Mutex<Box<Context>>,
    caches: Box<[Mutex<Walker>]>,
}

impl Objects {
    /// Whether `address` lies in some listed object's code.
    fn holds(&self, address: u64) -> bool {
        let i = self.code.partition_point(|r| r.start <= address);
        i > 0 && address < self.code[i - 1].end
    }

    /// The object whose loaded span holds `address`.
    #[cfg(target_arch = "x86_64")]
    fn object_of(&self, address: u64) -> Option<&Found> {
        let i = self.found.partition_point(|f| f.span.0 <= address);
        let found = self.found.get(i.checked_sub(1)?)?;
        (address < found.span.1).then_some(found)
    }
}

static OBJECTS: RwLock<Option<Box<Objects>>> = RwLock::new(None);
/// Set while one thread builds a new [`Objects`].
static BUILDING: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// This thread's stack, `[low, high)`, `(0, 0)` until first asked.
    /// Destructor-free, so usable while the thread is torn down.
    static STACK: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// Fills `stack` with the calling thread's return addresses, innermost
/// first (the first is the return into this function's caller), and
/// returns how many; `None` when this walk cannot be done now (the list or
/// every cache busy, `sp` off the thread's stack, an unwind error), for the
/// caller to use another unwinder.
#[inline(never)]
pub(crate) fn capture(stack: &mut [usize]) -> Option<usize> {
    let (pc, regs) = registers();
    let low = regs.sp();
    let (_, high) = thread_stack(low)?;
    let held = objects(loaded()?)?;
    let objects = held.as_deref()?;
    let mut walker = lock_any(&objects.caches)?;
    let walker = &mut *walker;
    let mut read = |address: u64| -> Result<u64, ()> {
        if !address.is_multiple_of(8) || address < low || address >= high - 7 {
            return Err(());
        }
        // SAFETY: `address` is 8-aligned and the 8 bytes from it lie
        // between this capture's `sp` and the top of this thread's stack,
        // which is mapped and holds the frames of this function's callers;
        // the read is volatile as a caller may share a slot of its frame
        // with another thread.
        Ok(unsafe { std::ptr::read_volatile(address as *const u64) })
    };
    let mut regs = regs;
    let mut frame = FrameAddress::from_instruction_pointer(pc);
    let mut n = 0;
    // Each frame's rule is looked up once: the lookup that finds the next
    // frame's rule also tells whether its return address is in code.
    #[cfg(target_arch = "x86_64")]
    let mut rule = walker.rules.rule(objects, frame);
    while n < stack.len() {
        #[cfg(target_arch = "x86_64")]
        let step = match rule {
            Rule::FRAMEHOP => objects
                .unwinder
                .unwind_frame(frame, &mut regs, &mut walker.framehop, &mut read)
                .map_err(drop),
            rule => rule.exec(&mut regs, &mut read),
        };
        #[cfg(not(target_arch = "x86_64"))]
        let step = objects
            .unwinder
            .unwind_frame(frame, &mut regs, &mut walker.framehop, &mut read);
        let ret = match step {
            Ok(Some(ret)) => ret,
            // The stack's end (a frame whose CFI leaves the return address
            // undefined: `_start`, `clone3`).
            Ok(None) => break,
            Err(_) => return None,
        };
        frame = FrameAddress::from_return_address(ret)?;
        #[cfg(target_arch = "x86_64")]
        {
            rule = walker.rules.rule(objects, frame);
        }
        #[cfg(target_arch = "x86_64")]
        let in_code = rule != Rule::OUTSIDE;
        #[cfg(not(target_arch = "x86_64"))]
        let in_code = objects.holds(ret);
        if !in_code {
            // Code of no listed object: the walk ends before it.
            break;
        }
        stack[n] = ret as usize;
        n += 1;
    }
    Some(n)
}

/// The program counter (inside this function), and the registers framehop
/// needs, of the function this is inlined into.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn registers() -> (u64, UnwindRegsNative) {
    let (pc, sp, fp): (u64, u64, u64);
    // SAFETY: reads `rip`, `rsp` and `rbp` into three registers, touching
    // no memory, no flags and not the stack.
    unsafe {
        core::arch::asm!(
            "lea {pc}, [rip]",
            "mov {sp}, rsp",
            "mov {fp}, rbp",
            pc = out(reg) pc,
            sp = out(reg) sp,
            fp = out(reg) fp,
            options(nomem, nostack, preserves_flags),
        );
    }
    (pc, UnwindRegsNative::new(pc, sp, fp))
}

/// The program counter (inside this function), and the registers framehop
/// needs, of the function this is inlined into.
#[cfg(target_arch = "aarch64")]
#[inline(always)]
fn registers() -> (u64, UnwindRegsNative) {
    let (pc, lr, sp, fp): (u64, u64, u64, u64);
    // SAFETY: reads the address of this instruction, `x30`, `sp` and `x29`
    // into four registers, touching no memory, no flags and not the stack.
    unsafe {
        core::arch::asm!(
            "adr {pc}, .",
            "mov {lr}, x30",
            "mov {sp}, sp",
            "mov {fp}, x29",
            pc = out(reg) pc,
            lr = out(reg) lr,
            sp = out(reg) sp,
            fp = out(reg) fp,
            options(nomem, nostack, preserves_flags),
        );
    }
    // Code lies below 2^48 (Linux maps user space above that only for
    // mappings that ask for it, never for code); the bits above hold the
    // pointer-authentication code of a return address signed with
    // `-mbranch-protection`.
    let mask = framehop::aarch64::PtrAuthMask(u64::MAX >> 16);
    (
        pc,
        UnwindRegsNative::new_with_ptr_auth_mask(mask, lr, sp, fp),
    )
}

/// The calling thread's stack as `[low, high)`, if `sp` lies in it.
fn thread_stack(sp: u64) -> Option<(u64, u64)> {
    let (low, high) = STACK.try_with(Cell::get).ok()?;
    if (low..high).contains(&sp) {
        return Some((low, high));
    }
    let mut attr = std::mem::MaybeUninit::<libc::pthread_attr_t>::uninit();
    // SAFETY: `attr` is writable; on success `pthread_getattr_np`
    // initializes it, and it is destroyed below.
    if unsafe { libc::pthread_getattr_np(libc::pthread_self(), attr.as_mut_ptr()) } != 0 {
        return None;
    }
    let (mut addr, mut size) = (std::ptr::null_mut::<c_void>(), 0usize);
    // SAFETY: `attr` was initialized by `pthread_getattr_np`; `addr` and
    // `size` are writable.
    let got = unsafe { libc::pthread_attr_getstack(attr.as_ptr(), &mut addr, &mut size) };
    // SAFETY: `attr` was initialized and is not used after this.
    unsafe { libc::pthread_attr_destroy(attr.as_mut_ptr()) };
    if got != 0 {
        return None;
    }
    let bounds = (addr as u64, addr as u64 + size as u64);
    let _ = STACK.try_with(|s| s.set(bounds));
    (bounds.0..bounds.1).contains(&sp).then_some(bounds)
}

/// The first walker no other capture holds.
fn lock_any(caches: &[Mutex<Walker>]) -> Option<MutexGuard<'_, Walker>> {
    caches.iter().find_map(|c| match c.try_lock() {
        Ok(c) => Some(c),
        Err(TryLockError::Poisoned(c)) => Some(c.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    })
}

mod objects;
#[cfg(target_arch = "x86_64")]
mod rules;

use objects::{Found, bytes, loaded, objects};
#[cfg(target_arch = "x86_64")]
use rules::{Context, Rule, Rules};

#[cfg(test)]
mod tests {
    use super::*;

    /// Depth reached below each test's own frame: the user's frame under an
    /// async client's `socket()` is 35 frames down.
    const DEPTH: usize = 40;

    /// This crate's walk, if it walked, and libgcc's.
    type Walks = (Option<Vec<usize>>, Vec<usize>);

    /// Both walks from one frame: this crate's (`None` if it declined every
    /// time; it declines while another test's `dlopen` has the object list
    /// rebuilt) and libgcc's, through `backtrace`, each with no cap on the
    /// count.
    #[inline(never)]
    fn both() -> Walks {
        let mut buffer = [0usize; 512];
        let mut ours = None;
        // A plain loop: a closure would add its frame under `both`'s.
        for _ in 0..1000 {
            ours = capture(&mut buffer).map(|n| buffer[..n].to_vec());
            if ours.is_some() {
                break;
            }
        }
        let mut theirs = Vec::new();
        // SAFETY: libgcc's unwinder is thread-safe on glibc Linux.
        unsafe {
            backtrace::trace_unsynchronized(|frame| {
                theirs.push(frame.ip() as usize);
                true
            })
        };
        std::hint::black_box((ours, theirs))
    }

    /// Asserts that this crate's walk gives libgcc's return addresses, from
    /// the return into `both`'s caller to the stack's end, and that it is
    /// at least `min` frames long.
    #[track_caller]
    fn same_walk((ours, mut theirs): Walks, min: usize) {
        // libgcc reports the outermost frame's undefined return address as
        // a frame at 0.
        if theirs.last() == Some(&0) {
            theirs.pop();
        }
        let ours = ours.expect("the walk was declined");
        assert!(ours.len() >= min, "{} frames, want {min}", ours.len());
        // `ours[0]` and a frame of `theirs` both return into `both`, at two
        // call sites; from `both`'s caller on they must agree.
        let k = theirs
            .iter()
            .position(|&ip| ip == ours[1])
            .unwrap_or_else(|| panic!("{:#x} not in libgcc's walk {theirs:#x?}", ours[1]));
        assert!(k <= 8, "libgcc's walk reaches `both`'s caller at frame {k}");
        assert_eq!(ours[1..], theirs[k..], "our walk against libgcc's");
    }

    #[inline(never)]
    fn down(depth: usize, at_bottom: &mut dyn FnMut()) {
        if depth == 0 {
            at_bottom();
        } else {
            down(depth - 1, at_bottom);
        }
        std::hint::black_box(depth);
    }

    #[test]
    fn matches_libgcc_through_plain_recursion() {
        down(DEPTH, &mut || same_walk(both(), DEPTH));
        // A second walk from the same sites runs on cached rules.
        down(DEPTH, &mut || same_walk(both(), DEPTH));
    }

    /// Through std's precompiled code (`Once`'s slow path, `catch_unwind`)
    /// and a fresh thread's start, down to `clone3`.
    #[test]
    fn matches_libgcc_through_std() {
        std::thread::spawn(|| {
            down(DEPTH / 2, &mut || {
                let once = std::sync::Once::new();
                once.call_once(|| {
                    std::panic::catch_unwind(|| down(DEPTH / 2, &mut || same_walk(both(), DEPTH)))
                        .unwrap();
                });
            })
        })
        .join()
        .unwrap();
    }

    /// Through glibc's `qsort`, built without frame pointers, calling back
    /// into Rust.
    #[test]
    fn matches_libgcc_through_libc() {
        thread_local! {
            static WALKS: std::cell::RefCell<Vec<Walks>> =
                const { std::cell::RefCell::new(Vec::new()) };
        }
        // Asserts outside: a panic may not unwind through `qsort`.
        extern "C" fn compare(a: *const c_void, b: *const c_void) -> c_int {
            down(DEPTH / 2, &mut || WALKS.with_borrow_mut(|w| w.push(both())));
            // SAFETY: `qsort` passes pointers to two of the `u32`s below.
            unsafe { (*a.cast::<u32>()).cmp(&*b.cast::<u32>()) as c_int }
        }
        down(DEPTH / 2, &mut || {
            let mut items = [2u32, 1];
            // SAFETY: `items` holds 2 elements of 4 bytes, and `compare`
            // compares two of them.
            unsafe { libc::qsort(items.as_mut_ptr().cast(), 2, 4, Some(compare)) };
            assert_eq!(items, [1, 2]);
        });
        let walks = WALKS.take();
        assert!(!walks.is_empty());
        for walk in walks {
            same_walk(walk, DEPTH);
        }
    }

    /// Inside a task on tokio's runtime (a dependency built in debug).
    #[test]
    fn matches_libgcc_inside_tokio() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        runtime
            .block_on(runtime.spawn(async {
                tokio::task::yield_now().await;
                down(DEPTH, &mut || same_walk(both(), DEPTH));
            }))
            .unwrap();
    }

    /// After `dlopen` and `dlclose` the object list is built again, and the
    /// walk still matches.
    #[test]
    fn rebuilds_the_object_list_after_dlopen_and_dlclose() {
        same_walk(both(), 3);
        let before = loaded().unwrap();
        // SAFETY: a NUL-terminated name; libresolv has no constructors
        // that need anything of this process.
        let handle = unsafe { libc::dlopen(c"libresolv.so.2".as_ptr(), libc::RTLD_NOW) };
        assert!(!handle.is_null(), "dlopen libresolv.so.2");
        let opened = loaded().unwrap();
        assert_ne!(before, opened);
        same_walk(both(), 3);
        assert_eq!(OBJECTS.read().unwrap().as_ref().unwrap().loaded, opened);
        // SAFETY: `handle` came from `dlopen` and is closed once.
        assert_eq!(unsafe { libc::dlclose(handle) }, 0);
        same_walk(both(), 3);
        assert_eq!(
            OBJECTS.read().unwrap().as_ref().unwrap().loaded,
            loaded().unwrap()
        );
    }

    /// Each return address of a walk through Rust code gets a rule of the
    /// table's own kinds, not framehop's, and keeps it for the next walk.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn keeps_a_rule_of_its_own_for_each_rust_frame() {
        let objects = objects::build(loaded().unwrap()).expect("objects listed");
        let mut rules = Rules::new();
        down(DEPTH, &mut || {
            let (_, theirs) = both();
            // libgcc's walk from inside `both`: its first frames are the
            // unwinder's and `both`'s own, then returns into the closure
            // and into `down`, DEPTH of them in a row.
            let start = theirs
                .windows(2)
                .position(|w| w[0] == w[1])
                .expect("recursion in the walk");
            let downs = &theirs[start..start + DEPTH];
            assert!(downs.iter().all(|&ret| ret == downs[0]));
            for &ret in &theirs[start..] {
                if ret == 0 {
                    break;
                }
                let frame = FrameAddress::from_return_address(ret as u64).unwrap();
                let rule = rules.rule(&objects, frame);
                assert_eq!(rules.get(Rules::key(ret as u64, false)), Some(rule));
                if downs.contains(&ret) {
                    let kind = rule.0 & 0xff;
                    assert!(
                        kind == Rule::SP || kind == Rule::BP,
                        "rule {:#x} for {ret:#x}",
                        rule.0
                    );
                }
            }
        });
    }

    /// A table half full starts over, so probes stay short, and answers
    /// for what it holds after.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn a_half_full_rule_table_starts_over() {
        let objects = objects::build(loaded().unwrap()).expect("objects listed");
        let mut rules = Rules::new();
        // Addresses below 64 KiB, where Linux maps nothing: each is kept
        // as outside every object's code.
        let frame = |i: usize| FrameAddress::from_return_address(8 * i as u64).unwrap();
        for i in 1..=rules::RULES / 2 {
            assert_eq!(rules.rule(&objects, frame(i)), Rule::OUTSIDE);
        }
        assert_eq!(rules.taken, rules::RULES / 2);
        assert!(rules.get(Rules::key(8, false)).is_some());
        assert_eq!(
            rules.rule(&objects, frame(rules::RULES / 2 + 1)),
            Rule::OUTSIDE
        );
        assert_eq!(rules.taken, 1);
        assert_eq!(rules.get(Rules::key(8, false)), None);
        let last = Rules::key(8 * (rules::RULES / 2 + 1) as u64, false);
        assert_eq!(rules.get(last), Some(Rule::OUTSIDE));
    }

    /// Stack reads stop at the thread's stack: the bounds hold a local,
    /// and a thread with a small stack still walks to its end.
    #[test]
    fn stack_reads_stay_on_the_thread_stack() {
        let local = 0u64;
        let at = &raw const local as u64;
        let (low, high) = thread_stack(at).expect("a local lies on the thread's stack");
        assert!(low <= at && at < high, "{low:#x}..{high:#x} lacks {at:#x}");
        assert_eq!(
            thread_stack(high),
            None,
            "one past the top is off the stack"
        );
        std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(|| down(8, &mut || same_walk(both(), 8)))
            .unwrap()
            .join()
            .unwrap();
    }
}
