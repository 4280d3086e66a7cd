//! The real libc functions behind the interposed ones.
//!
//! # Sanitizers
//!
//! A sanitizer runtime (ASan, TSan, MSan, LSan) intercepts the same libc
//! functions, by weak definitions that this crate's strong ones would
//! silently replace. Where one is in the process, each hook calls the
//! runtime's interceptor (`__interceptor_open64`) instead of libc, and
//! records nothing: the sanitizer keeps its view of the process, and
//! [`crate::support`] says why leakwatch has none.

use std::ffi::{CStr, c_void};
use std::sync::atomic::{AtomicPtr, AtomicU8, Ordering};

/// One real function, looked up on first use.
pub(crate) struct Real {
    name: &'static CStr,
    /// A sanitizer's interceptor of the same function.
    interceptor: &'static CStr,
    addr: AtomicPtr<c_void>,
}

/// Whether a sanitizer runtime is in the process: 0 not looked yet, 1 no,
/// 2 yes.
static SANITIZER: AtomicU8 = AtomicU8::new(0);

/// Whether a sanitizer runtime is in the process (every sanitizer's
/// common runtime defines `__sanitizer_print_stack_trace`).
pub(crate) fn sanitizer() -> bool {
    match SANITIZER.load(Ordering::Relaxed) {
        0 => {
            // SAFETY: `RTLD_DEFAULT` searches the global scope; the name is
            // NUL-terminated and static.
            let found = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"__sanitizer_print_stack_trace".as_ptr()) };
            SANITIZER.store(if found.is_null() { 1 } else { 2 }, Ordering::Relaxed);
            !found.is_null()
        }
        v => v == 2,
    }
}

impl Real {
    pub(crate) const fn new(name: &'static CStr, interceptor: &'static CStr) -> Real {
        Real {
            name,
            interceptor,
            addr: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// The address of the next definition of this symbol after this
    /// executable's, that is libc's.
    ///
    /// Two threads may both look it up on first use; they find the same
    /// address. `dlsym` may allocate through `malloc` (never this crate's
    /// counting allocator), and no interposed function is called while
    /// `malloc`'s lock is held, so looking up here cannot deadlock.
    #[inline]
    pub(crate) fn get(&self) -> *mut c_void {
        let addr = self.get_if_any();
        if addr.is_null() {
            missing(self.name);
        }
        addr
    }

    /// As [`Real::get`], but null where this libc lacks the function
    /// (`close_range` before glibc 2.34, `pidfd_open` before 2.36).
    #[inline]
    pub(crate) fn get_if_any(&self) -> *mut c_void {
        let addr = self.addr.load(Ordering::Relaxed);
        if !addr.is_null() {
            return addr;
        }
        let mut found = std::ptr::null_mut();
        if sanitizer() {
            // SAFETY: `RTLD_DEFAULT` is the global scope's pseudo-handle,
            // and the name is a NUL-terminated string that outlives the call.
            found = unsafe { libc::dlsym(libc::RTLD_DEFAULT, self.interceptor.as_ptr()) };
        }
        if found.is_null() {
            // SAFETY: `RTLD_NEXT` is a valid pseudo-handle for `dlsym` in
            // code linked into an executable or shared object, and the
            // name is a NUL-terminated string that outlives the call.
            found = unsafe { libc::dlsym(libc::RTLD_NEXT, self.name.as_ptr()) };
        }
        self.addr.store(found, Ordering::Relaxed);
        found
    }
}

/// Every function interposed here is in glibc; without it the process
/// cannot go on, and no allocation is safe to make here.
#[cold]
fn missing(name: &CStr) -> ! {
    const MSG: &[u8] = b"leakwatch-interpose: libc lacks an interposed function: ";
    for part in [MSG, name.to_bytes(), b"\n"] {
        // SAFETY: writes `part.len()` bytes from a live slice to stderr.
        unsafe { libc::write(2, part.as_ptr().cast(), part.len()) };
    }
    std::process::abort()
}

/// Declares the real function `$name` with the C type `$ty`, and a
/// function of the same name returning it; those after `@optional` return
/// `None` where this libc lacks them. `resolve_all` looks every one up.
macro_rules! real {
    ($($name:ident: $ty:ty;)* @optional $($opt:ident: $opt_ty:ty;)*) => {
        $(
            #[inline]
            pub(crate) fn $name() -> $ty {
                let addr = $crate::active::real::real!(@static $name).get();
                // SAFETY: `addr` is libc's definition of the symbol of this
                // name, non-null (`Real::get` aborts otherwise), and `$ty`
                // is its C signature as glibc declares it.
                unsafe { std::mem::transmute::<*mut std::ffi::c_void, $ty>(addr) }
            }
        )*
        $(
            #[inline]
            pub(crate) fn $opt() -> Option<$opt_ty> {
                let addr = $crate::active::real::real!(@static $opt).get_if_any();
                if addr.is_null() {
                    return None;
                }
                // SAFETY: `addr` is libc's definition of the symbol of this
                // name, non-null, and `$opt_ty` is its C signature as glibc
                // declares it.
                Some(unsafe { std::mem::transmute::<*mut std::ffi::c_void, $opt_ty>(addr) })
            }
        )*

        /// Looks up every real function now, so that none is looked up
        /// for the first time in a forked child, where `dlsym` may wait on
        /// a loader lock that a thread of the parent held.
        pub(crate) fn resolve_all() {
            static DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
            if !DONE.load(std::sync::atomic::Ordering::Relaxed) {
                $(let _ = $name();)*
                $(let _ = $opt();)*
                DONE.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
    };
    (@static $name:ident) => {{
        static REAL: $crate::active::real::Real = $crate::active::real::Real::new(
            match std::ffi::CStr::from_bytes_with_nul(concat!(stringify!($name), "\0").as_bytes()) {
                Ok(name) => name,
                Err(_) => panic!("a symbol name with a NUL"),
            },
            match std::ffi::CStr::from_bytes_with_nul(
                concat!("__interceptor_", stringify!($name), "\0").as_bytes(),
            ) {
                Ok(name) => name,
                Err(_) => panic!("a symbol name with a NUL"),
            },
        );
        &REAL
    }};
}
pub(crate) use real;
