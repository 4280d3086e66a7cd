//! Walking frame pointers, in builds that have them.
//!
//! With `-C force-frame-pointers=yes`, every function of the build saves its
//! caller's frame pointer next to its return address, so the stack is a
//! linked list: 16 frames cost tens of nanoseconds against microseconds for
//! the unwinder. `build.rs` turns this on only when the flag is set.
//!
//! Code built without frame pointers (the precompiled standard library, C
//! libraries) may use the register for other data. So no pointer is followed
//! unchecked: each must be aligned, lie inside the calling thread's own
//! stack, and point higher than the last, or the walk stops. At worst a walk
//! ends early or its last frames are wrong; it never reads outside the stack.

use std::cell::Cell;
use std::mem::{MaybeUninit, size_of};
#[cfg(test)]
use std::sync::Arc;

#[cfg(test)]
use super::{Stack, USER_SITE_FRAMES};

const WORD: usize = size_of::<usize>();

thread_local! {
    /// This thread's stack, `[low, high)`, looked up once.
    static BOUNDS: Cell<Option<(usize, usize)>> = const { Cell::new(None) };
}

/// Writes the calling thread's stack into `ips`, innermost first, as far
/// as it goes; returns how many addresses it wrote.
#[inline(never)]
pub(crate) fn fill(ips: &mut [usize]) -> usize {
    let Some((low, high)) = bounds() else {
        return 0;
    };
    let fp = frame_pointer();
    walk(fp, low, high, ips, |addr| {
        // SAFETY: `walk` only passes word-aligned addresses `a` with
        // `low <= a` and `a + WORD <= high`, inside this thread's own stack
        // mapping, which is readable for as long as the thread runs. The read
        // is volatile because the words belong to other frames.
        unsafe { std::ptr::read_volatile(std::ptr::with_exposed_provenance::<usize>(addr)) }
    })
}

/// The calling thread's stack, innermost first, up to
/// [`USER_SITE_FRAMES`].
#[cfg(test)]
#[inline(never)]
fn capture() -> Option<Arc<Stack>> {
    Stack::boxed::<USER_SITE_FRAMES>(true, fill)
}

/// Follows the chain from `fp`, writing return addresses into `ips`.
///
/// `read` is called only for word-aligned addresses in `[low, high - WORD]`.
/// Returns how many addresses were written.
fn walk(
    mut fp: usize,
    low: usize,
    high: usize,
    ips: &mut [usize],
    read: impl Fn(usize) -> usize,
) -> usize {
    let mut n = 0;
    while n < ips.len() {
        let in_stack = fp >= low && fp.checked_add(2 * WORD).is_some_and(|end| end <= high);
        if !in_stack || !fp.is_multiple_of(WORD) {
            break;
        }
        let next = read(fp);
        let ret = read(fp + WORD);
        if ret == 0 {
            break;
        }
        ips[n] = ret;
        n += 1;
        if next <= fp {
            break;
        }
        fp = next;
    }
    n
}

/// The calling function's frame pointer.
#[inline(always)]
fn frame_pointer() -> usize {
    let fp: usize;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: copies a register into another; touches no memory or flags.
    unsafe {
        std::arch::asm!("mov {}, rbp", out(reg) fp, options(nomem, nostack, preserves_flags));
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: copies a register into another; touches no memory or flags.
    unsafe {
        std::arch::asm!("mov {}, x29", out(reg) fp, options(nomem, nostack, preserves_flags));
    }
    fp
}

fn bounds() -> Option<(usize, usize)> {
    BOUNDS
        .try_with(|cell| {
            if cell.get().is_none() {
                cell.set(query_bounds());
            }
            cell.get()
        })
        .ok()
        .flatten()
}

/// Asks pthreads where the calling thread's stack is.
fn query_bounds() -> Option<(usize, usize)> {
    let mut attr = MaybeUninit::<libc::pthread_attr_t>::uninit();
    // SAFETY: `attr` is writable storage for one `pthread_attr_t`, which
    // `pthread_getattr_np` initializes when it returns 0.
    if unsafe { libc::pthread_getattr_np(libc::pthread_self(), attr.as_mut_ptr()) } != 0 {
        return None;
    }
    let mut addr = std::ptr::null_mut();
    let mut size = 0;
    // SAFETY: `attr` was initialized above; `addr` and `size` are writable.
    let rc = unsafe { libc::pthread_attr_getstack(attr.as_ptr(), &mut addr, &mut size) };
    // SAFETY: `attr` was initialized above and is not used after this.
    unsafe { libc::pthread_attr_destroy(attr.as_mut_ptr()) };
    (rc == 0 && size > 0).then(|| (addr as usize, addr as usize + size))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake stack of `words`, read only through the bounds `walk` checks.
    fn walk_fake(words: &[usize], start: usize, max: usize) -> Vec<usize> {
        let low = words.as_ptr() as usize;
        let high = low + words.len() * WORD;
        let mut ips = vec![0; max];
        let n = walk(low + start * WORD, low, high, &mut ips, |addr| {
            assert!(
                addr >= low && addr + WORD <= high && addr % WORD == 0,
                "read out of bounds"
            );
            words[(addr - low) / WORD]
        });
        ips.truncate(n);
        ips
    }

    fn link(words: &mut [usize], at: usize, next: usize, ret: usize) {
        let base = words.as_ptr() as usize;
        words[at] = base + next * WORD;
        words[at + 1] = ret;
    }

    #[test]
    fn follows_a_well_formed_chain() {
        let mut words = vec![0usize; 16];
        link(&mut words, 0, 4, 0x1000);
        link(&mut words, 4, 10, 0x2000);
        words[10] = 0; // the outermost frame: next pointer below, stop
        words[11] = 0x3000;
        assert_eq!(
            walk_fake(&words, 0, USER_SITE_FRAMES),
            [0x1000, 0x2000, 0x3000]
        );
        assert_eq!(
            walk_fake(&words, 0, 2),
            [0x1000, 0x2000],
            "stops at the limit"
        );
    }

    #[test]
    fn stops_at_pointers_out_of_bounds_misaligned_or_going_down() {
        let mut words = vec![0usize; 16];
        let base = words.as_ptr() as usize;
        // Points past the end of the stack.
        words[0] = base + 64 * WORD;
        words[1] = 0x1000;
        assert_eq!(walk_fake(&words, 0, USER_SITE_FRAMES), [0x1000]);
        // Misaligned.
        words[0] = base + 4 * WORD + 1;
        assert_eq!(walk_fake(&words, 0, USER_SITE_FRAMES), [0x1000]);
        // Points down (a loop).
        link(&mut words, 4, 2, 0x2000);
        link(&mut words, 2, 4, 0x3000);
        assert_eq!(walk_fake(&words, 2, USER_SITE_FRAMES), [0x3000, 0x2000]);
        // The last two words: a frame record would run past the end.
        assert_eq!(walk_fake(&words, 15, USER_SITE_FRAMES), Vec::<usize>::new());
    }

    #[test]
    fn zero_return_address_ends_the_walk() {
        let mut words = vec![0usize; 8];
        link(&mut words, 0, 2, 0x1000);
        link(&mut words, 2, 4, 0);
        assert_eq!(walk_fake(&words, 0, USER_SITE_FRAMES), [0x1000]);
    }

    #[test]
    fn this_thread_has_bounds_around_a_local() {
        let local = 0u8;
        let (low, high) = bounds().expect("pthreads knows the stack");
        let at = &local as *const u8 as usize;
        assert!(low <= at && at < high, "{low:#x} <= {at:#x} < {high:#x}");
    }

    /// Without frame pointers the register may hold anything: the walk must
    /// still stay within the stack and the frame limit, however deep.
    #[test]
    fn real_walks_stay_bounded_whatever_the_build() {
        #[inline(never)]
        fn nest(depth: u32) -> usize {
            if depth == 0 {
                capture().map_or(0, |s| s.addresses().len())
            } else {
                std::hint::black_box(nest(depth - 1))
            }
        }
        for depth in 0..64 {
            assert!(nest(depth) <= USER_SITE_FRAMES);
        }
    }

    #[cfg(leakwatch_frame_pointers)]
    #[test]
    fn real_walk_finds_the_callers() {
        #[inline(never)]
        fn two() -> Option<Arc<Stack>> {
            std::hint::black_box(capture())
        }
        #[inline(never)]
        fn one() -> Option<Arc<Stack>> {
            std::hint::black_box(two())
        }
        let stack = one().expect("frames");
        let names: Vec<_> = super::super::resolve::resolve(stack.addresses())
            .into_iter()
            .map(|f| f.function)
            .collect();
        let two_at = names
            .iter()
            .position(|n| n.ends_with("::two"))
            .expect("two");
        assert!(names[two_at + 1].ends_with("::one"), "{names:#?}");
    }
}
