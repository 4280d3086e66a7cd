//! A clock read with one load, for opens that happen once per task.
//!
//! Reading even the coarse clock costs about 10 ns, a third of what tracking
//! a task through tokio's hooks costs in all. While at least one [`Ticking`]
//! exists, a background thread named `leakwatch-clock` stores the coarse
//! time in a static every [`PERIOD`], and [`recent_nanos`] returns it with
//! one load; otherwise (no table wants it, or the thread could not be
//! started) it reads the clock itself. A time read so is late by at most a
//! period plus however long the thread waited to be scheduled, so an age in
//! a report is at most that much too long: a millisecond or two, where
//! reports show milliseconds and leaks live hundreds of them.
//!
//! With no `Ticking` left the thread stops updating and parks until the next
//! one, so a program that stops tracking stops paying for the thread too.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread::{self, Thread};
use std::time::Duration;

use super::now_nanos;

/// How often the thread stores the time.
pub(crate) const PERIOD: Duration = Duration::from_millis(1);

/// The process's ticker.
static TICKER: Ticker = Ticker::new();

/// The coarse clock's time, at most about a [`PERIOD`] late while a
/// [`Ticking`] exists; read from the clock itself otherwise.
#[inline]
pub(crate) fn recent_nanos() -> u64 {
    TICKER.recent_nanos()
}

/// Keeps the background thread updating [`recent_nanos`]' time while it
/// lives.
#[derive(Debug)]
pub(crate) struct Ticking(&'static Ticker);

impl Ticking {
    /// Starts the thread, or wakes it, if this is the only `Ticking`.
    pub(crate) fn start() -> Ticking {
        TICKER.start()
    }
}

impl Drop for Ticking {
    fn drop(&mut self) {
        // The thread notices within a period and parks.
        self.0.users.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A time kept up to date by a thread of its own while it has users.
#[derive(Debug)]
struct Ticker {
    /// The time the thread stored last; 0 while it does not run.
    recent: AtomicU64,
    /// [`Ticking`]s alive.
    users: AtomicUsize,
    /// The thread, once started; `None` if it could not be.
    thread: OnceLock<Option<Thread>>,
}

impl Ticker {
    const fn new() -> Ticker {
        Ticker {
            recent: AtomicU64::new(0),
            users: AtomicUsize::new(0),
            thread: OnceLock::new(),
        }
    }

    #[inline]
    fn recent_nanos(&self) -> u64 {
        match self.recent.load(Ordering::Relaxed) {
            0 => now_nanos(),
            recent => recent,
        }
    }

    fn start(&'static self) -> Ticking {
        if self.users.fetch_add(1, Ordering::AcqRel) == 0
            && let Some(thread) = self.thread.get_or_init(|| self.spawn())
        {
            // A wake-up sent before the thread parks is kept: it parks,
            // returns at once and sees this user.
            thread.unpark();
        }
        Ticking(self)
    }

    /// Starts the thread; `None` if the system refuses one (then
    /// [`recent_nanos`] reads the clock each time, which is only slower).
    fn spawn(&'static self) -> Option<Thread> {
        thread::Builder::new()
            .name("leakwatch-clock".into())
            .spawn(|| self.tick())
            .ok()
            .map(|handle| handle.thread().clone())
    }

    /// The thread's loop: store the time every period while anyone wants
    /// it, else park until someone does.
    fn tick(&self) {
        loop {
            if self.users.load(Ordering::Acquire) == 0 {
                self.recent.store(0, Ordering::Relaxed);
                thread::park();
                continue;
            }
            self.recent.store(now_nanos(), Ordering::Relaxed);
            thread::park_timeout(PERIOD);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};

    use super::{PERIOD, Ticker};
    use crate::clock::now_nanos;

    /// How late a recent time may be in a test: a period, a coarse tick,
    /// and a loaded test machine's scheduling delay.
    const SLACK: Duration = Duration::from_millis(250);

    /// Waits until `ticker`'s stored time is or is not set.
    fn wait_until_ticking(ticker: &Ticker, ticking: bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while (ticker.recent.load(Ordering::Relaxed) != 0) != ticking {
            assert!(Instant::now() < deadline, "never became ticking={ticking}");
            std::thread::sleep(PERIOD);
        }
    }

    #[test]
    fn follows_the_clock_while_ticking_and_stops_without_users() {
        static TICKER: Ticker = Ticker::new();
        assert_eq!(TICKER.recent.load(Ordering::Relaxed), 0);
        let first = TICKER.start();
        wait_until_ticking(&TICKER, true);
        for _ in 0..5 {
            let (recent, now) = (TICKER.recent_nanos(), now_nanos());
            assert!(recent <= now, "{recent} is ahead of {now}");
            assert!(Duration::from_nanos(now - recent) < SLACK, "{:?} late", now - recent);
            std::thread::sleep(Duration::from_millis(20));
        }
        let before = TICKER.recent_nanos();
        std::thread::sleep(Duration::from_millis(50));
        assert!(TICKER.recent_nanos() >= before + 20_000_000, "it moves on as time does");

        // Two users: the thread runs until both are gone.
        let second = TICKER.start();
        drop(first);
        std::thread::sleep(Duration::from_millis(20));
        assert_ne!(TICKER.recent.load(Ordering::Relaxed), 0, "stopped with a user left");
        drop(second);
        wait_until_ticking(&TICKER, false);
        // Stopped, the clock is read directly: current, not the last tick.
        let (recent, now) = (TICKER.recent_nanos(), now_nanos());
        assert!(now.saturating_sub(recent) < SLACK.as_nanos() as u64);

        // And a new user wakes it again.
        let again = TICKER.start();
        wait_until_ticking(&TICKER, true);
        drop(again);
    }
}
