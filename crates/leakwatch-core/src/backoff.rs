//! Waiting with backoff, bounded by a grace period.
//!
//! Checks look again at growing intervals (1 ms, doubling to 50 ms) until
//! what they wait for is gone or the grace is over: quick for work that is
//! about to close, cheap for work that never will.

use std::time::{Duration, Instant};

/// The longest pause between two looks.
const MAX_PAUSE: Duration = Duration::from_millis(50);

/// Pauses of 1 ms doubling to 50 ms, never past the end of a grace period.
///
/// ```
/// use std::time::Duration;
/// use leakwatch_core::Backoff;
///
/// let mut backoff = Backoff::new(Duration::from_millis(10));
/// while let Some(pause) = backoff.next_pause() {
///     // look again after `pause`
///     std::thread::sleep(pause);
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Backoff {
    start: Instant,
    grace: Duration,
    pause: Duration,
}

impl Backoff {
    /// Starts a grace period of `grace`, now.
    ///
    /// ```
    /// let backoff = leakwatch_core::Backoff::new(leakwatch_core::DEFAULT_GRACE);
    /// ```
    pub fn new(grace: Duration) -> Backoff {
        Backoff {
            start: Instant::now(),
            grace,
            pause: Duration::from_millis(1),
        }
    }

    /// How long to wait before the next look, or `None` once the grace is
    /// over.
    ///
    /// ```
    /// let mut backoff = leakwatch_core::Backoff::new(std::time::Duration::ZERO);
    /// assert_eq!(backoff.next_pause(), None);
    /// ```
    pub fn next_pause(&mut self) -> Option<Duration> {
        let left = self.grace.saturating_sub(self.start.elapsed());
        if left.is_zero() {
            return None;
        }
        let pause = self.pause.min(left);
        self.pause = (self.pause * 2).min(MAX_PAUSE);
        Some(pause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_cap_and_stop_with_the_grace() {
        let mut backoff = Backoff::new(Duration::from_secs(3600));
        let pauses: Vec<_> = (0..8)
            .map(|_| backoff.next_pause().unwrap().as_millis())
            .collect();
        assert_eq!(pauses, [1, 2, 4, 8, 16, 32, 50, 50]);
        assert_eq!(Backoff::new(Duration::ZERO).next_pause(), None);
        let mut short = Backoff::new(Duration::from_micros(300));
        assert!(short.next_pause().unwrap() <= Duration::from_micros(300));
    }
}
