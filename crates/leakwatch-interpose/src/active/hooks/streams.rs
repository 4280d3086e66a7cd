//! The streams libc opens and closes for its callers: directory streams
//! and `FILE`s.

use super::*;

/// Records the descriptor under a directory stream libc just opened.
fn dir_opened(dir: *mut DIR, call: Call) -> *mut DIR {
    if !dir.is_null() {
        // SAFETY: `dir` is a stream libc just returned, open.
        opened(unsafe { libc::dirfd(dir) }, call);
    }
    dir
}

/// `DIR *opendir(const char *)`, std's `read_dir`: libc opens the
/// descriptor itself, unseen by the interposed `open`.
///
/// # Safety
/// As for libc's `opendir`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn opendir(path: *const c_char) -> *mut DIR {
    // SAFETY: forwards the caller's argument unchanged.
    dir_opened(unsafe { real::opendir()(path) }, Call::Opendir)
}

/// `int closedir(DIR *)`: forgets the stream's descriptor (opened by
/// `opendir`, or by the caller for `fdopendir`, as std's `remove_dir_all`
/// does), which libc closes without calling the interposed `close`.
///
/// # Safety
/// As for libc's `closedir`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn closedir(dir: *mut DIR) -> c_int {
    if !dir.is_null() {
        // SAFETY: the caller passes an open stream, as `closedir` requires.
        fd_closing(unsafe { libc::dirfd(dir) });
    }
    // SAFETY: forwards the caller's argument unchanged.
    unsafe { real::closedir()(dir) }
}

/// Records the descriptor under a stream libc just opened.
fn file_opened(file: *mut FILE, call: Call) -> *mut FILE {
    if !file.is_null() {
        // SAFETY: `file` is a stream libc just returned, open.
        opened(unsafe { libc::fileno(file) }, call);
    }
    file
}

/// `FILE *fopen(const char *, const char *)`.
///
/// # Safety
/// As for libc's `fopen`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fopen(path: *const c_char, mode: *const c_char) -> *mut FILE {
    // SAFETY: forwards the caller's arguments unchanged.
    file_opened(unsafe { real::fopen()(path, mode) }, Call::Fopen)
}

/// `FILE *fopen64(const char *, const char *)`.
///
/// # Safety
/// As for libc's `fopen64`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fopen64(path: *const c_char, mode: *const c_char) -> *mut FILE {
    // SAFETY: forwards the caller's arguments unchanged.
    file_opened(unsafe { real::fopen64()(path, mode) }, Call::Fopen64)
}

/// `FILE *tmpfile(void)`.
///
/// # Safety
/// As for libc's `tmpfile`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tmpfile() -> *mut FILE {
    // SAFETY: no arguments.
    file_opened(unsafe { real::tmpfile()() }, Call::Tmpfile)
}

/// `FILE *tmpfile64(void)`.
///
/// # Safety
/// As for libc's `tmpfile64`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tmpfile64() -> *mut FILE {
    // SAFETY: no arguments.
    file_opened(unsafe { real::tmpfile64()() }, Call::Tmpfile)
}

/// `int fclose(FILE *)`: forgets the stream's descriptor (from `fopen`,
/// or the caller's for `fdopen`), which libc closes itself.
///
/// # Safety
/// As for libc's `fclose`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fclose(file: *mut FILE) -> c_int {
    if !file.is_null() {
        // SAFETY: the caller passes an open stream, as `fclose` requires.
        fd_closing(unsafe { libc::fileno(file) });
    }
    // SAFETY: forwards the caller's argument unchanged.
    unsafe { real::fclose()(file) }
}
