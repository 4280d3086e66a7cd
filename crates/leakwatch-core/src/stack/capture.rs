//! Capturing raw return addresses with the platform unwinder.

/// Writes the calling thread's stack into `ips`, innermost first, as far
/// as it goes; returns how many addresses it wrote.
#[inline(never)]
pub(crate) fn fill(ips: &mut [usize]) -> usize {
    let mut n = 0;
    if ips.is_empty() {
        return 0;
    }
    backtrace::trace(|frame| {
        ips[n] = frame.ip() as usize;
        n += 1;
        n < ips.len()
    });
    n
}
