//! Cheap monotonic clocks for open times.
//!
//! Ages in a report are shown in milliseconds or more, so a coarse clock is
//! precise enough. On Linux `CLOCK_MONOTONIC_COARSE` costs about a third of
//! `Instant::now()`, which matters on a tag's path, whose whole budget is a
//! few clock reads (see BENCHMARKS.md). Tables that open an
//! item for every task of a runtime read [`recent`]'s time instead: a load,
//! kept up to date by a background thread while such tables exist.

mod recent;

pub(crate) use recent::{Ticking, recent_nanos};

/// Nanoseconds on a monotonic clock with an arbitrary origin.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[inline]
pub(crate) fn now_nanos() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable `timespec` for the duration of the
    // call, and CLOCK_MONOTONIC_COARSE exists on every Linux since 2.6.32.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    debug_assert_eq!(rc, 0);
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// Nanoseconds on a monotonic clock with an arbitrary origin.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
#[inline]
pub(crate) fn now_nanos() -> u64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

#[cfg(test)]
mod tests {
    use super::now_nanos;
    use std::time::Duration;

    #[test]
    fn is_monotonic_and_follows_real_time() {
        let a = now_nanos();
        std::thread::sleep(Duration::from_millis(30));
        let b = now_nanos();
        assert!(b >= a);
        // Coarse ticks are at most a few ms apart.
        let elapsed = Duration::from_nanos(b - a);
        assert!(elapsed >= Duration::from_millis(20), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    }
}
