//! What a static's initializer creates belongs to the process.
//!
//! A suite that shares one `static RT: LazyLock<Runtime>` (or a client, a
//! pool, a test server) across its tests must not have the first test to
//! touch it blamed for the runtime's threads and descriptors. Every std
//! `Once`, `OnceLock`, `LazyLock` and `lazy_static` initializer runs inside
//! one function of std that is not generic (the platform `Once::call`),
//! and that function calls the initializer from one place: every stack
//! captured inside an initializer holds the same return address there.
//! [`initializer_return`] finds it once, by capturing stacks inside two
//! initializers of different kinds and keeping the innermost address they
//! share.
//!
//! A creation whose stack holds that address is made while a static
//! initializes: it is recorded in no scope, and a thread it starts runs in
//! none, so what that thread creates later is the process's too. What a
//! test creates later and leaves in the static (a pooled connection)
//! stays the test's. Only creations that capture a stack are judged (see
//! `want_stack`). Initializers that do not run through std's `Once`
//! (`once_cell`'s own, tokio's async `OnceCell`) are not recognised here.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Once, OnceLock};

use super::{FRAMES, capture_with_libgcc as capture};

/// 0: not looked for yet; 1: looked for and not found; else the address.
static RETURN: AtomicUsize = AtomicUsize::new(0);

/// Code of other copies of std's `Once::call` (an executable's, when this
/// crate is in a preloaded library with a std of its own), set once.
static OTHER_CALLS: OnceLock<Vec<Range<usize>>> = OnceLock::new();

/// Whether `stack` (return addresses, innermost first) was captured while
/// a static initialized.
pub(super) fn in_initializer(stack: &[usize]) -> bool {
    initializer_return().is_some_and(|ret| stack.contains(&ret))
        || OTHER_CALLS
            .get()
            .is_some_and(|code| stack.iter().any(|ip| code.iter().any(|r| r.contains(ip))))
}

/// Takes `code` as well for the address ranges of `Once::call`; `false` if
/// some were given already.
pub(crate) fn set_other_calls(code: Vec<Range<usize>>) -> bool {
    OTHER_CALLS.set(code).is_ok()
}

/// The return address inside std's `Once::call` right after its call of an
/// initializer, `None` if it cannot be told.
pub(super) fn initializer_return() -> Option<usize> {
    match RETURN.load(Ordering::Relaxed) {
        0 => {
            // Two threads may both look; they find the same address.
            let found = find();
            RETURN.store(found.unwrap_or(1), Ordering::Relaxed);
            found
        }
        1 => None,
        ret => Some(ret),
    }
}

/// The innermost frame the two initializers' stacks share beyond the
/// capture's own: inside each, the capture's frames come first (the same
/// as outside), then the initializer's closures (different for each kind),
/// then `Once::call`. Nothing further out is compared, so a search made
/// inside another static's initializer, or on a stack deeper than a
/// capture holds, finds the same address. Every stack here is taken by one
/// walker (libgcc's), so the capture's own frames are the same in each; and
/// the address found must not be on a stack taken the same way outside an
/// initializer, else nothing is judged.
#[inline(never)]
fn find() -> Option<usize> {
    let mut around = [0; FRAMES];
    let len = capture(&mut around);
    let around = &around[..len];
    let (a, a_len) = inside_once();
    let (b, b_len) = inside_once_lock();
    let (plain, plain_len) = inside_nothing();
    let (a, b, plain) = (&a[..a_len], &b[..b_len], &plain[..plain_len]);
    let own = a.iter().zip(around).take_while(|(x, y)| x == y).count();
    let ret = a[own..]
        .iter()
        .copied()
        .find(|ip| *ip > 1 && b.contains(ip))?;
    // A search made inside another initializer has the address further out
    // on every stack; otherwise a plain stack must not hold it.
    (around.contains(&ret) || !plain.contains(&ret)).then_some(ret)
}

#[inline(never)]
fn inside_once() -> ([usize; FRAMES], usize) {
    let mut stack = [0; FRAMES];
    let mut len = 0;
    Once::new().call_once(|| len = capture(&mut stack));
    (stack, len)
}

#[inline(never)]
fn inside_nothing() -> ([usize; FRAMES], usize) {
    let mut stack = [0; FRAMES];
    let len = std::hint::black_box(capture(&mut stack));
    (stack, len)
}

#[inline(never)]
fn inside_once_lock() -> ([usize; FRAMES], usize) {
    let mut stack = [0; FRAMES];
    let lock = OnceLock::new();
    let len = *lock.get_or_init(|| capture(&mut stack));
    (stack, len)
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use super::*;

    #[test]
    fn the_initializer_return_is_found_and_on_every_kind_of_static() {
        let ret = initializer_return().expect("std's Once::call is found");
        let here = {
            let mut stack = [0; FRAMES];
            let len = capture(&mut stack);
            in_initializer(&stack[..len])
        };
        assert!(!here, "a plain stack is not in an initializer");
        let mut stack = [0; FRAMES];
        let len = super::super::capture(&mut stack);
        assert!(
            !stack[..len].contains(&ret),
            "nor one taken by the hooks' own walker"
        );
        static LAZY: LazyLock<bool> = LazyLock::new(|| {
            let mut stack = [0; FRAMES];
            let len = capture(&mut stack);
            in_initializer(&stack[..len])
        });
        assert!(*LAZY, "a LazyLock's initializer");
        let once = OnceLock::new();
        assert!(*once.get_or_init(|| {
            let mut stack = [0; FRAMES];
            let len = capture(&mut stack);
            stack[..len].contains(&ret)
        }));
    }

    /// Searches made at once on many threads, while the hooks' walker is
    /// busy on others (its caches taken, so it falls back), all find the
    /// same address, and it is on no plain stack.
    #[test]
    fn searches_under_contention_agree() {
        let expected = initializer_return().expect("found");
        let found: Vec<Option<usize>> = std::thread::scope(|s| {
            let busy: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        let mut stack = [0; FRAMES];
                        for _ in 0..200 {
                            super::super::capture(&mut stack);
                        }
                    })
                })
                .collect();
            let searches: Vec<_> = (0..8).map(|_| s.spawn(find)).collect();
            busy.into_iter().for_each(|h| h.join().unwrap());
            searches.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(found.iter().all(|f| *f == Some(expected)), "{found:?}");
    }
}
