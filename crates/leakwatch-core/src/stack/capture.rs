//! Capturing raw return addresses with the platform unwinder.

use super::{MAX_FRAMES, Stack};

/// The calling thread's stack, innermost first, up to [`MAX_FRAMES`].
#[inline(never)]
pub(crate) fn capture() -> Option<Box<Stack>> {
    Stack::boxed(|ips| {
        let mut n = 0;
        backtrace::trace(|frame| {
            ips[n] = frame.ip() as usize;
            n += 1;
            n < MAX_FRAMES
        });
        n
    })
}
