//! Waiting for something another thread or process does: poll, sleep a
//! little, give up at a deadline generous enough for a loaded machine, and
//! let the caller's assertion say what was missing.

use std::time::{Duration, Instant};

/// Calls `get` every `every` until `done` holds of its value or `limit`
/// has passed, and returns the last value either way (the caller asserts
/// on it, so a timeout fails with what was seen).
///
/// ```
/// use std::time::Duration;
///
/// let mut polls = 0;
/// let seen = tests_support::wait::until(
///     Duration::from_secs(5),
///     Duration::from_millis(1),
///     || {
///         polls += 1;
///         polls
///     },
///     |&n| n == 3,
/// );
/// assert_eq!(seen, 3);
/// ```
pub fn until<T>(
    limit: Duration,
    every: Duration,
    mut get: impl FnMut() -> T,
    done: impl Fn(&T) -> bool,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        let value = get();
        if done(&value) || Instant::now() > deadline {
            return value;
        }
        std::thread::sleep(every);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_condition_that_never_holds_returns_the_last_value_at_the_deadline() {
        let start = Instant::now();
        let mut polls = 0;
        let last = until(
            Duration::from_millis(30),
            Duration::from_millis(5),
            || {
                polls += 1;
                polls
            },
            |_| false,
        );
        assert!(start.elapsed() >= Duration::from_millis(30));
        assert!(last > 1, "polled once only");
        assert_eq!(last, polls);
    }
}
