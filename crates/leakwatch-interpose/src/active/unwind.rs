//! The calling thread's return addresses, unwound with framehop from the
//! DWARF call frame information (`.eh_frame`) of the loaded objects, read in
//! place.
//!
//! libgcc's unwinder (behind `backtrace::trace_unsynchronized` and glibc's
//! `backtrace()`) finds, for every frame, the object holding the address
//! (`dl_iterate_phdr` under the loader's lock), searches its
//! `.eh_frame_hdr`, and interprets the frame's CFI program from the start:
//! 6.8 µs for 45 frames (`benches/unwind.rs`), against 0.8 µs here. framehop
//! keeps the rule it derived for each
//! return address in a cache, so a stack that passes through the same call
//! sites again (the common case: the same test opening files in a loop)
//! costs a hash lookup and a load or two per frame. Debug builds of
//! dependencies keep no frame pointers, so a frame-pointer walk would stop
//! in the first of them; CFI covers every frame.
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

/// Rule caches, each taken by one capture at a time. 33 KiB each: gimli's
/// fixed-size CFI evaluation context (25 KiB) and 509 cached rules. More
/// captures at once than this fall back to libgcc's walk.
const CACHES: usize = 4;

/// What the loader has loaded and unloaded so far: `dlpi_adds`, `dlpi_subs`.
type Loaded = (u64, u64);

/// The loaded objects at one [`Loaded`], with their unwind sections.
struct Objects {
    loaded: Loaded,
    unwinder: Unwind,
    /// Every object's executable segments, sorted by start.
    code: Vec<Range<u64>>,
    caches: Box<[Mutex<Cache>]>,
}

impl Objects {
    /// Whether `address` lies in some listed object's code.
    fn holds(&self, address: u64) -> bool {
        let i = self.code.partition_point(|r| r.start <= address);
        i > 0 && address < self.code[i - 1].end
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
    let mut cache = lock_any(&objects.caches)?;
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
    while n < stack.len() {
        match objects
            .unwinder
            .unwind_frame(frame, &mut regs, &mut cache, &mut read)
        {
            Ok(Some(ret)) if objects.holds(ret) => {
                stack[n] = ret as usize;
                n += 1;
                frame = FrameAddress::from_return_address(ret)?;
            }
            // The stack's end (a frame whose CFI leaves the return address
            // undefined: `_start`, `clone3`), or code of no listed object.
            Ok(_) => break,
            Err(_) => return None,
        }
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

/// The loader's counts of objects loaded and unloaded so far.
fn loaded() -> Option<Loaded> {
    unsafe extern "C" fn first(
        info: *mut libc::dl_phdr_info,
        size: libc::size_t,
        data: *mut c_void,
    ) -> c_int {
        if size >= std::mem::size_of::<libc::dl_phdr_info>() {
            // SAFETY: `dl_iterate_phdr` passes a valid `info` of `size`
            // bytes, which holds the counts, and `data` is `loaded`'s
            // `Option<Loaded>`, borrowed for the call.
            unsafe {
                *data.cast::<Option<Loaded>>() = Some(((*info).dlpi_adds, (*info).dlpi_subs));
            }
        }
        // The counts are the same in every entry: stop at the first.
        1
    }
    let mut counts: Option<Loaded> = None;
    // SAFETY: `first` matches the callback's signature and only writes
    // through `data`, which points at `counts` for the whole call.
    unsafe { libc::dl_iterate_phdr(Some(first), (&raw mut counts).cast()) };
    counts
}

/// The object list for `loaded`, built (or built again) if the one held is
/// for other counts; `None` if it is busy or another thread is building.
fn objects(loaded: Loaded) -> Option<RwLockReadGuard<'static, Option<Box<Objects>>>> {
    for _ in 0..2 {
        let held = match OBJECTS.try_read() {
            Ok(held) => held,
            Err(TryLockError::Poisoned(held)) => held.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        if held.as_ref().is_some_and(|o| o.loaded == loaded) {
            return Some(held);
        }
        drop(held);
        rebuild(loaded)?;
    }
    None
}

/// Builds the object list for `loaded` and swaps it in; `None` if another
/// thread is building or the list could not be read.
#[cold]
fn rebuild(loaded: Loaded) -> Option<()> {
    if BUILDING.swap(true, Ordering::Acquire) {
        return None;
    }
    struct Done;
    impl Drop for Done {
        fn drop(&mut self) {
            BUILDING.store(false, Ordering::Release);
        }
    }
    let _done = Done;
    // The list lives until the next `dlopen` or `dlclose`, not the scope
    // whose hook happened to build it.
    let _outside = ScopeId::NONE.enter();
    let fresh = Some(Box::new(build(loaded)?));
    // Waits only for captures under way: they hold the list to walk, which
    // takes no lock and allocates nothing, and none starts while a writer
    // waits.
    let mut held = OBJECTS.write().unwrap_or_else(|p| p.into_inner());
    let old = std::mem::replace(&mut *held, fresh);
    drop(held);
    drop(old);
    Some(())
}

/// The first cache no other capture holds.
fn lock_any(caches: &[Mutex<Cache>]) -> Option<MutexGuard<'_, Cache>> {
    caches.iter().find_map(|c| match c.try_lock() {
        Ok(c) => Some(c),
        Err(TryLockError::Poisoned(c)) => Some(c.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    })
}

/// Executable segments kept per object; an object has one or two. Code in
/// any further ones counts as no object's.
const MAX_CODE: usize = 4;

/// What a capture needs of one loaded object, read while the loader's lock
/// is held. Addresses are run-time ones (AVMAs), `(start, end)`.
#[derive(Clone, Copy, Default)]
struct Found {
    base: u64,
    /// From the lowest `PT_LOAD` segment's start to the highest's end.
    span: (u64, u64),
    code: [(u64, u64); MAX_CODE],
    code_len: usize,
    eh_frame_hdr: (u64, u64),
    /// From `.eh_frame`'s start to the end of the `PT_LOAD` segment holding
    /// it.
    eh_frame: (u64, u64),
}

impl Found {
    /// Reads `info`'s segments and `.eh_frame_hdr`; `None` for an object
    /// without unwind sections (a walk that reaches its code ends there).
    ///
    /// # Safety
    ///
    /// `info` is as `dl_iterate_phdr` passes it to its callback, and this
    /// runs inside that callback, where the object stays loaded.
    unsafe fn read(info: &libc::dl_phdr_info) -> Option<Found> {
        if info.dlpi_phdr.is_null() {
            return None;
        }
        // SAFETY: `dlpi_phdr` points at the object's `dlpi_phnum` program
        // headers, mapped while it is loaded (the caller's contract).
        let phdrs =
            unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) };
        let base = info.dlpi_addr;
        let at = |p: &libc::Elf64_Phdr| (base + p.p_vaddr, base + p.p_vaddr + p.p_memsz);
        let loads = || phdrs.iter().filter(|p| p.p_type == libc::PT_LOAD).map(at);
        let in_load = |a: u64, b: u64| loads().find(|&(s, e)| s <= a && b <= e);
        let mut found = Found {
            base,
            span: (loads().map(|l| l.0).min()?, loads().map(|l| l.1).max()?),
            ..Found::default()
        };
        let code = phdrs
            .iter()
            .filter(|p| p.p_type == libc::PT_LOAD && p.p_flags & libc::PF_X != 0);
        for (slot, p) in found.code.iter_mut().zip(code) {
            *slot = at(p);
            found.code_len += 1;
        }
        let hdr = at(phdrs.iter().find(|p| p.p_type == libc::PT_GNU_EH_FRAME)?);
        if hdr.0 == hdr.1 {
            return None;
        }
        in_load(hdr.0, hdr.1)?;
        // SAFETY: `PT_GNU_EH_FRAME` lies inside a `PT_LOAD` segment (checked
        // above), mapped while the object is loaded.
        let hdr_data =
            unsafe { std::slice::from_raw_parts(hdr.0 as *const u8, (hdr.1 - hdr.0) as usize) };
        let bases = gimli::BaseAddresses::default().set_eh_frame_hdr(hdr.0);
        let parsed = gimli::EhFrameHdr::new(hdr_data, gimli::NativeEndian)
            .parse(&bases, 8)
            .ok()?;
        let gimli::Pointer::Direct(eh_frame) = parsed.eh_frame_ptr() else {
            return None;
        };
        found.eh_frame_hdr = hdr;
        found.eh_frame = (eh_frame, in_load(eh_frame, eh_frame)?.1);
        Some(found)
    }

    /// This object as a framehop module over its `.eh_frame_hdr` and
    /// `.eh_frame`, borrowed from memory.
    fn module(&self) -> Module<Bytes> {
        let bytes = |(start, end): (u64, u64)| -> Bytes {
            // SAFETY: `read` checked that the range lies in a `PT_LOAD`
            // segment, mapped while the object stays loaded: see the module
            // docs for how the list is dropped before it is unloaded.
            unsafe { std::slice::from_raw_parts(start as *const u8, (end - start) as usize) }
        };
        // Addresses the object states (SVMAs) are its run-time addresses
        // less its base.
        let svma = |(start, end): (u64, u64)| start - self.base..end - self.base;
        Module::new(
            String::new(),
            self.span.0..self.span.1,
            self.base,
            ExplicitModuleSectionInfo {
                base_svma: 0,
                eh_frame_svma: Some(svma(self.eh_frame)),
                eh_frame: Some(bytes(self.eh_frame)),
                eh_frame_hdr_svma: Some(svma(self.eh_frame_hdr)),
                eh_frame_hdr: Some(bytes(self.eh_frame_hdr)),
                ..Default::default()
            },
        )
    }
}

/// Lists the loaded objects and builds their unwinder, for `loaded`.
fn build(loaded: Loaded) -> Option<Objects> {
    /// Filled by `each` without allocating, since the loader's lock is
    /// held meanwhile; `full` asks for a larger list.
    struct List {
        found: Vec<Found>,
        full: bool,
    }
    unsafe extern "C" fn each(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut c_void,
    ) -> c_int {
        // SAFETY: `dl_iterate_phdr` passes a valid `info`, and `data` is
        // `build`'s `List`, borrowed for the call.
        let (info, list) = unsafe { (&*info, &mut *data.cast::<List>()) };
        if list.found.len() == list.found.capacity() {
            list.full = true;
            return 1;
        }
        // SAFETY: `info` is as passed to this callback, which this is.
        if let Some(found) = unsafe { Found::read(info) } {
            list.found.push(found);
        }
        0
    }
    let mut list = List {
        found: Vec::with_capacity(64),
        full: true,
    };
    while list.full {
        let capacity = list.found.capacity() * 2;
        list = List {
            found: Vec::with_capacity(capacity),
            full: false,
        };
        // SAFETY: `each` matches the callback's signature and only writes
        // through `data`, which points at `list` for the whole call.
        unsafe { libc::dl_iterate_phdr(Some(each), (&raw mut list).cast()) };
    }
    if list.found.is_empty() {
        return None;
    }
    let mut unwinder = Unwind::new();
    let mut code = Vec::new();
    for found in &list.found {
        unwinder.add_module(found.module());
        code.extend(found.code[..found.code_len].iter().map(|&(s, e)| s..e));
    }
    code.sort_by_key(|r| r.start);
    Some(Objects {
        loaded,
        unwinder,
        code,
        caches: (0..CACHES).map(|_| Mutex::new(Cache::new_in())).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Depth reached below each test's own frame: the user's frame under an
    /// async client's `socket()` is 35 frames down.
    const DEPTH: usize = 40;

    /// framehop's walk, if it walked, and libgcc's.
    type Walks = (Option<Vec<usize>>, Vec<usize>);

    /// Both walks from one frame: framehop's (`None` if it declined every
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

    /// Asserts that framehop's walk gives libgcc's return addresses, from
    /// the return into `both`'s caller to the stack's end, and that it is
    /// at least `min` frames long.
    #[track_caller]
    fn same_walk((ours, mut theirs): Walks, min: usize) {
        // libgcc reports the outermost frame's undefined return address as
        // a frame at 0.
        if theirs.last() == Some(&0) {
            theirs.pop();
        }
        let ours = ours.expect("framehop declined to walk");
        assert!(ours.len() >= min, "{} frames, want {min}", ours.len());
        // `ours[0]` and a frame of `theirs` both return into `both`, at two
        // call sites; from `both`'s caller on they must agree.
        let k = theirs
            .iter()
            .position(|&ip| ip == ours[1])
            .unwrap_or_else(|| panic!("{:#x} not in libgcc's walk {theirs:#x?}", ours[1]));
        assert!(k <= 8, "libgcc's walk reaches `both`'s caller at frame {k}");
        assert_eq!(ours[1..], theirs[k..], "framehop's walk against libgcc's");
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
