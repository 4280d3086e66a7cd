//! A clock read with one load, for opens that come by the hundred thousand.
//!
//! Reading even the coarse clock is a large share of what tracking a task
//! through tokio's hooks costs in all (see BENCHMARKS.md). So while at least one [`Ticking`] exists, a background thread named
//! `leakwatch-clock` watches how busy its users are, and while they are busy
//! it stores the coarse time in a static every [`PERIOD`], which
//! [`recent_nanos`] returns with one load. Otherwise (idle users, no users,
//! or no thread) `recent_nanos` reads the clock itself.
//!
//! Waking the thread costs too, thousands of clock reads' worth of CPU a
//! wake-up on a virtual machine, so waking every [`PERIOD`] pays only when
//! more opens than [`BUSY`] each period skip the clock. So the thread stores the time only from such a period on,
//! until a second ([`LINGER`]) has passed without one; otherwise it looks at
//! its users' activity every [`IDLE_PERIOD`], leaving opens to read the
//! clock meanwhile.
//!
//! A stored time is late by at most a period plus however long the thread
//! waited to be scheduled, so an age in a report is at most that much too
//! long: a few milliseconds, where the coarse clock itself moves in steps of
//! the kernel's tick (commonly 4 ms), reports show milliseconds and leaks
//! live hundreds of them.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread::{self, Thread};
use std::time::Duration;

use super::now_nanos;

/// How often the thread stores the time while its users are busy: the
/// coarse clock's usual step.
const PERIOD: Duration = Duration::from_millis(4);
/// How often the thread looks at its users' activity while they are idle.
const IDLE_PERIOD: Duration = Duration::from_millis(100);
/// Periods in a row without [`BUSY`] activity after which the thread stops
/// storing the time: a second, so bursts of work (or a benchmark's runs with
/// and without tracking taking turns) keep it.
const LINGER: u32 = 250;
/// Activity per [`PERIOD`] from which storing the time pays for waking:
/// the clock reads it saves cost more than a wake-up of the thread on a
/// virtual machine, with a margin for machines whose clock is cheaper.
const BUSY: u64 = 2_000;

/// The process's ticker.
static TICKER: Ticker = Ticker::new();

/// The coarse clock's time, at most about a [`PERIOD`] late while the
/// thread stores it; read from the clock itself otherwise.
#[inline]
pub(crate) fn recent_nanos() -> u64 {
    TICKER.recent_nanos()
}

/// Keeps the background thread watching, and while busy updating,
/// [`recent_nanos`]' time while it lives.
#[derive(Debug)]
pub(crate) struct Ticking(&'static Ticker);

impl Ticking {
    /// Starts the thread, or wakes it, if this is the only `Ticking`.
    /// `activity` is a count that grows with the users' opens (all
    /// `Ticking`s of the process share the first one given).
    pub(crate) fn start(activity: fn() -> u64) -> Ticking {
        TICKER.start(activity)
    }
}

impl Drop for Ticking {
    fn drop(&mut self) {
        // The thread notices within a period and parks.
        self.0.users.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A time kept up to date by a thread of its own while its users are busy.
#[derive(Debug)]
struct Ticker {
    /// The time the thread stored last; 0 while it does not store it.
    recent: AtomicU64,
    /// [`Ticking`]s alive.
    users: AtomicUsize,
    /// The thread, once started; `None` if it could not be started.
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

    fn start(&'static self, activity: fn() -> u64) -> Ticking {
        if self.users.fetch_add(1, Ordering::AcqRel) == 0
            && let Some(thread) = self.thread.get_or_init(|| self.spawn(activity))
        {
            // A wake-up sent before the thread parks is kept: it parks,
            // returns at once and sees this user.
            thread.unpark();
        }
        Ticking(self)
    }

    /// Starts the thread; `None` if the system refuses one (then
    /// [`recent_nanos`] reads the clock each time, which is only slower).
    fn spawn(&'static self, activity: fn() -> u64) -> Option<Thread> {
        // Started in no scope: whichever scope first needs the clock does
        // not own it, and a layer that records threads by scope (libc
        // interposition) charges it to none.
        let _outside = crate::ScopeId::NONE.enter();
        thread::Builder::new()
            .name("leakwatch-clock".into())
            .spawn(move || self.tick(activity))
            .ok()
            .map(|handle| handle.thread().clone())
    }

    /// The thread's loop: while anyone wants the time, store it every
    /// period while they are busy (and for [`LINGER`] periods after), else
    /// stop storing it and look again after a longer wait; park while
    /// nobody wants it.
    fn tick(&self, activity: fn() -> u64) {
        let period = PERIOD.as_nanos() as u64;
        let (mut last, mut at) = (activity(), now_nanos());
        // Periods in a row that were not busy; starts as if long idle.
        let mut quiet = LINGER;
        loop {
            if self.users.load(Ordering::Acquire) == 0 {
                self.recent.store(0, Ordering::Relaxed);
                thread::park();
                (last, at, quiet) = (activity(), now_nanos(), LINGER);
                continue;
            }
            let (count, now) = (activity(), now_nanos());
            // Opens per period since the last look (a count that fell, as
            // when a table is dropped, counts as none).
            let elapsed = now.saturating_sub(at).max(period);
            let busy = count.saturating_sub(last).saturating_mul(period) >= BUSY * elapsed;
            (last, at) = (count, now);
            quiet = if busy { 0 } else { quiet.saturating_add(1) };
            if quiet < LINGER {
                self.recent.store(now, Ordering::Relaxed);
                thread::park_timeout(PERIOD);
            } else {
                self.recent.store(0, Ordering::Relaxed);
                thread::park_timeout(IDLE_PERIOD);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    use super::{BUSY, PERIOD, Ticker};
    use crate::clock::now_nanos;

    /// How late a stored time may be in a test: a period and a coarse
    /// tick (a few ms) plus the scheduling delay of a loaded machine, which
    /// can reach hundreds of ms. A thread that stopped storing is caught
    /// by [`wait_until_moving`], not by this bound.
    const SLACK: Duration = Duration::from_secs(2);
    /// How long a test waits for the thread to do something before it
    /// fails: far beyond any scheduling delay, so only a thread that never
    /// does it fails.
    const DEADLINE: Duration = Duration::from_secs(10);

    static TICKER: Ticker = Ticker::new();
    /// The test's stand-in for the users' opens.
    static OPENS: AtomicU64 = AtomicU64::new(0);

    fn opens() -> u64 {
        OPENS.load(Ordering::Relaxed)
    }

    /// Waits until the ticker stores a time, or stops storing one.
    fn wait_until_storing(storing: bool) {
        let deadline = Instant::now() + DEADLINE;
        while (TICKER.recent.load(Ordering::Relaxed) != 0) != storing {
            assert!(Instant::now() < deadline, "never became storing={storing}");
            std::thread::sleep(PERIOD);
        }
    }

    /// Waits until the stored time is at least `by` past what it is now:
    /// the thread is storing and the time it stores moves on.
    fn wait_until_moving(by: Duration) {
        let deadline = Instant::now() + DEADLINE;
        let from = TICKER.recent.load(Ordering::Relaxed);
        loop {
            let recent = TICKER.recent.load(Ordering::Relaxed);
            if from != 0 && recent >= from + by.as_nanos() as u64 {
                return;
            }
            assert!(Instant::now() < deadline, "the stored time did not move on from {from}");
            std::thread::sleep(PERIOD);
        }
    }

    /// Opens at ten times the busy rate until the flag is cleared.
    fn busy_opens(running: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            while running.load(Ordering::Relaxed) {
                OPENS.fetch_add(10 * BUSY, Ordering::Relaxed);
                std::thread::sleep(PERIOD);
            }
        })
    }

    #[test]
    fn stores_the_time_only_while_its_users_are_busy() {
        let first = TICKER.start(opens);
        // Idle users: no time stored, the clock read directly.
        std::thread::sleep(super::IDLE_PERIOD * 2);
        assert_eq!(TICKER.recent.load(Ordering::Relaxed), 0, "stored while idle");
        let (recent, now) = (TICKER.recent_nanos(), now_nanos());
        assert!(now.saturating_sub(recent) < SLACK.as_nanos() as u64);

        // Busy users: the time is stored, follows the clock, moves on.
        let running = Arc::new(AtomicBool::new(true));
        let feeder = busy_opens(running.clone());
        wait_until_storing(true);
        for _ in 0..5 {
            let (recent, now) = (TICKER.recent_nanos(), now_nanos());
            assert!(recent <= now, "{recent} is ahead of {now}");
            assert!(Duration::from_nanos(now - recent) < SLACK, "{:?} late", now - recent);
            std::thread::sleep(Duration::from_millis(20));
        }
        wait_until_moving(Duration::from_millis(20));

        // Two users: the thread runs until both are gone, busy or not.
        let second = TICKER.start(opens);
        drop(first);
        wait_until_moving(Duration::from_millis(20));
        drop(second);
        wait_until_storing(false);

        // A new user while busy: storing again. Then idle: stopped.
        let again = TICKER.start(opens);
        wait_until_storing(true);
        running.store(false, Ordering::Relaxed);
        feeder.join().unwrap();
        wait_until_storing(false);
        drop(again);
    }
}
