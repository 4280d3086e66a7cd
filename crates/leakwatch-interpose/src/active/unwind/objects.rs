//! The loaded objects and their sections, listed with `dl_iterate_phdr`
//! (see the parent module's "Objects").

use super::*;

/// The loader's counts of objects loaded and unloaded so far.
pub(super) fn loaded() -> Option<Loaded> {
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
pub(super) fn objects(loaded: Loaded) -> Option<RwLockReadGuard<'static, Option<Box<Objects>>>> {
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
pub(super) fn rebuild(loaded: Loaded) -> Option<()> {
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

/// Executable segments kept per object; an object has one or two. Code in
/// any further ones counts as no object's.
pub(super) const MAX_CODE: usize = 4;

/// What a capture needs of one loaded object, read while the loader's lock
/// is held. Addresses are run-time ones (AVMAs), `(start, end)`.
#[derive(Clone, Copy, Default)]
pub(super) struct Found {
    pub(super) base: u64,
    /// From the lowest `PT_LOAD` segment's start to the highest's end.
    pub(super) span: (u64, u64),
    pub(super) code: [(u64, u64); MAX_CODE],
    pub(super) code_len: usize,
    pub(super) eh_frame_hdr: (u64, u64),
    /// From `.eh_frame`'s start to the end of the `PT_LOAD` segment holding
    /// it.
    pub(super) eh_frame: (u64, u64),
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
    pub(super) fn module(&self) -> Module<Bytes> {
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
pub(super) fn build(loaded: Loaded) -> Option<Objects> {
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
    #[cfg(target_arch = "x86_64")]
    list.found.sort_by_key(|f| f.span.0);
    let walker = || Walker {
        framehop: Cache::new_in(),
        #[cfg(target_arch = "x86_64")]
        rules: Rules::new(),
    };
    Some(Objects {
        loaded,
        unwinder,
        code,
        #[cfg(target_arch = "x86_64")]
        found: list.found,
        #[cfg(target_arch = "x86_64")]
        context: Mutex::new(Box::new(Context::new_in())),
        caches: (0..CACHES).map(|_| Mutex::new(walker())).collect(),
    })
}

/// A section range read by `Found::read`, as bytes.
pub(super) fn bytes((start, end): (u64, u64)) -> Bytes {
    // SAFETY: `Found::read` checked that the range lies in a `PT_LOAD`
    // segment, mapped while the object stays loaded: see the module docs
    // for how the list is dropped before it is unloaded.
    unsafe { std::slice::from_raw_parts(start as *const u8, (end - start) as usize) }
}
