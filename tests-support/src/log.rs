//! A `tracing` writer that keeps what the process's subscriber wrote, for
//! tests of events (the watchdog's, in the facade's and `leakwatch-http`'s
//! tests).

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Everything the process's subscriber wrote.
///
/// ```
/// use std::io::Write as _;
///
/// let mut log = tests_support::log::Log::default();
/// writeln!(log, "WARN held for 2s").unwrap();
/// assert_eq!(log.lines("WARN", "held"), ["WARN held for 2s"]);
/// ```
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    /// A log that the process's `tracing` subscriber, installed now,
    /// writes to (without colours).
    ///
    /// # Panics
    ///
    /// If the process already has a global subscriber: call it once per
    /// test binary.
    ///
    /// ```no_run
    /// let log = tests_support::log::Log::installed();
    /// # drop(log);
    /// ```
    pub fn installed() -> Log {
        let log = Log::default();
        let writer = log.clone();
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .init();
        log
    }

    /// All of it.
    ///
    /// ```
    /// use std::io::Write as _;
    ///
    /// let mut log = tests_support::log::Log::default();
    /// write!(log, "one").unwrap();
    /// assert_eq!(log.text(), "one");
    /// ```
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }

    /// The lines that contain both `level` and `text`.
    ///
    /// ```
    /// use std::io::Write as _;
    ///
    /// let mut log = tests_support::log::Log::default();
    /// write!(log, "WARN a\nINFO a\nWARN b\n").unwrap();
    /// assert_eq!(log.lines("WARN", "a"), ["WARN a"]);
    /// ```
    pub fn lines(&self, level: &str, text: &str) -> Vec<String> {
        self.text()
            .lines()
            .filter(|l| l.contains(level) && l.contains(text))
            .map(str::to_owned)
            .collect()
    }

    /// Waits (up to 30 s, for a loaded machine) until `done` holds of the
    /// log, and returns it.
    ///
    /// ```
    /// use std::io::Write as _;
    ///
    /// let mut log = tests_support::log::Log::default();
    /// write!(log, "ready").unwrap();
    /// assert_eq!(log.wait_for(|text| text.contains("ready")), "ready");
    /// ```
    pub fn wait_for(&self, done: impl Fn(&str) -> bool) -> String {
        crate::wait::until(
            Duration::from_secs(30),
            Duration::from_millis(20),
            || self.text(),
            |text| done(text),
        )
    }

    fn bytes(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        // A writer that panicked mid-write leaves whole bytes behind.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
