//! A long-held watchdog, after HikariCP's `leakDetectionThreshold`: a
//! `tracing` warning once for each item held past its kind's threshold, and
//! a note when it is finally released.
//!
//! One background thread, `leakwatch-watchdog`, serves every item: it looks
//! at the live view ([`Snapshot::held_past`]) every quarter of the shortest
//! threshold (between 25 ms and 1 s) and builds items only for those past
//! their kind's threshold, so it stays cheap with many items open. The view
//! holds tracked items and, where libc is interposed, every descriptor
//! (kind `fd`), thread (`thread`) and child process (`child`) of the
//! process, so `LEAKWATCH_HELD=fd=10m,thread=1h` watches what std, tokio
//! and drivers opened too; a descriptor a wrapped type holds is watched by
//! that type's kind (`file`, `tcp`). Each such item gets one `WARN`
//! event with its kind, detail, site, thread, age and (at `LEAKWATCH=stacks`)
//! stack; when it is no longer open, one `INFO` event says how long it was
//! held (to within a look).
//!
//! [`start_with`] also hands each warned-about item to a callback, once,
//! right after its warning: the place to count long-held items into the
//! service's metrics (`leakwatch_export::metrics::LeakMetrics::record_long_held`)
//! or an alerting hook, without parsing log lines.
//!
//! ```no_run
//! # fn main() -> Result<(), leakwatch::watchdog::ThresholdError> {
//! // LEAKWATCH_HELD=db-conn=30s,tcp=5m, or in code:
//! let thresholds: leakwatch::watchdog::Thresholds = "db-conn=30s,tcp=5m".parse()?;
//! let watchdog = leakwatch::watchdog::start(thresholds);
//! // ... the service runs; dropping `watchdog` stops the thread.
//! # drop(watchdog);
//! # Ok(())
//! # }
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use leakwatch_core::{Item, Snapshot};

/// The shortest threshold taken: below it, ordinary work would be warned
/// about (HikariCP refuses under 2 s).
pub const MIN_THRESHOLD: Duration = Duration::from_millis(100);

/// How long items of each kind may be held before the watchdog warns.
///
/// ```
/// use std::time::Duration;
/// use leakwatch::watchdog::Thresholds;
///
/// let held: Thresholds = "db-conn=30s, tcp=5m".parse().unwrap();
/// assert_eq!(held.of("db-conn"), Some(Duration::from_secs(30)));
/// assert_eq!(held.of("file"), None);
/// assert!("db-conn=10ms".parse::<Thresholds>().is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Thresholds {
    by_kind: HashMap<String, Duration>,
}

impl Thresholds {
    /// No thresholds: nothing is watched.
    ///
    /// ```
    /// assert!(leakwatch::watchdog::Thresholds::new().is_empty());
    /// ```
    pub fn new() -> Thresholds {
        Thresholds::default()
    }

    /// These thresholds, with items of `kind` held past `threshold` warned
    /// about.
    ///
    /// ```
    /// use std::time::Duration;
    /// let held = leakwatch::watchdog::Thresholds::new()
    ///     .with("db-conn", Duration::from_secs(30))
    ///     .unwrap();
    /// assert_eq!(held.of("db-conn"), Some(Duration::from_secs(30)));
    /// ```
    pub fn with(mut self, kind: &str, threshold: Duration) -> Result<Thresholds, ThresholdError> {
        if threshold < MIN_THRESHOLD {
            return Err(ThresholdError::new(
                format!("{kind}={threshold:?}"),
                format!("below the minimum of {MIN_THRESHOLD:?}"),
            ));
        }
        self.by_kind.insert(kind.to_owned(), threshold);
        Ok(self)
    }

    /// The threshold of `kind`, if it is watched.
    ///
    /// ```
    /// assert_eq!(leakwatch::watchdog::Thresholds::new().of("tcp"), None);
    /// ```
    pub fn of(&self, kind: &str) -> Option<Duration> {
        self.by_kind.get(kind).copied()
    }

    /// Whether no kind is watched.
    ///
    /// ```
    /// assert!(!"tcp=1s".parse::<leakwatch::watchdog::Thresholds>().unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.by_kind.is_empty()
    }

    /// The thresholds in `LEAKWATCH_HELD` (`kind=duration,...`), none if it
    /// is not set.
    ///
    /// ```
    /// let held = leakwatch::watchdog::Thresholds::from_env();
    /// assert!(held.is_ok() || std::env::var_os("LEAKWATCH_HELD").is_some());
    /// ```
    pub fn from_env() -> Result<Thresholds, ThresholdError> {
        match std::env::var("LEAKWATCH_HELD") {
            Err(std::env::VarError::NotPresent) => Ok(Thresholds::new()),
            Err(std::env::VarError::NotUnicode(raw)) => Err(ThresholdError::new(
                raw.to_string_lossy().into_owned(),
                "the value is not valid UTF-8".to_owned(),
            )),
            Ok(value) => value.parse(),
        }
    }

    /// The shortest threshold, if any.
    fn shortest(&self) -> Option<Duration> {
        self.by_kind.values().min().copied()
    }
}

impl FromStr for Thresholds {
    type Err = ThresholdError;

    fn from_str(s: &str) -> Result<Thresholds, ThresholdError> {
        let mut thresholds = Thresholds::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((kind, value)) = part.split_once('=') else {
                return Err(ThresholdError::new(
                    part.to_owned(),
                    "expected `kind=duration`".to_owned(),
                ));
            };
            let threshold = leakwatch_core::parse_grace(value.trim()).map_err(|_| {
                ThresholdError::new(
                    part.to_owned(),
                    "the duration is not a number followed by `us`, `ms`, `s`, `m` or `h`"
                        .to_owned(),
                )
            })?;
            thresholds = thresholds.with(kind.trim(), threshold)?;
        }
        Ok(thresholds)
    }
}

/// A threshold that cannot be used, quoted as it was given.
///
/// ```
/// let err = "db-conn".parse::<leakwatch::watchdog::Thresholds>().unwrap_err();
/// assert!(err.to_string().contains("`db-conn`"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThresholdError {
    value: String,
    reason: String,
}

impl ThresholdError {
    fn new(value: String, reason: String) -> ThresholdError {
        ThresholdError { value, reason }
    }
}

impl fmt::Display for ThresholdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "LEAKWATCH_HELD `{}` is not valid: {}",
            self.value, self.reason
        )
    }
}

impl std::error::Error for ThresholdError {}

/// The running watchdog: dropping it stops its thread.
#[derive(Debug)]
#[must_use = "the watchdog stops when this is dropped"]
pub struct Watchdog {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// Starts the watchdog's thread for `thresholds` (nothing runs if they are
/// empty).
///
/// ```
/// let watchdog = leakwatch::watchdog::start(leakwatch::watchdog::Thresholds::new());
/// drop(watchdog);
/// ```
pub fn start(thresholds: Thresholds) -> Watchdog {
    start_with(thresholds, |_| {})
}

/// Starts the watchdog's thread for `thresholds`, calling `on_held` once for
/// each item held past its kind's threshold, on the watchdog's thread,
/// right after that item's warning. `on_held` should return quickly: the
/// next look waits for it.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// let long_held = Arc::new(AtomicU64::new(0));
/// let counter = long_held.clone();
/// let watchdog = leakwatch::watchdog::start_with("db-conn=30s".parse().unwrap(), move |item| {
///     // With `leakwatch-export`: `metrics.record_long_held(item.kind())`.
///     assert_eq!(item.kind(), "db-conn");
///     counter.fetch_add(1, Ordering::Relaxed);
/// });
/// # drop(watchdog);
/// ```
pub fn start_with(thresholds: Thresholds, on_held: impl Fn(&Item) + Send + 'static) -> Watchdog {
    let stop = Arc::new(AtomicBool::new(false));
    let Some(shortest) = thresholds.shortest() else {
        return Watchdog { stop, thread: None };
    };
    let period = (shortest / 4).clamp(Duration::from_millis(25), Duration::from_secs(1));
    let thread = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("leakwatch-watchdog".into())
            .spawn(move || watch(&thresholds, period, &stop, &on_held))
            .expect("leakwatch: cannot start the watchdog thread")
    };
    Watchdog {
        stop,
        thread: Some(thread),
    }
}

/// Looks every `period` until told to stop.
fn watch(thresholds: &Thresholds, period: Duration, stop: &AtomicBool, on_held: &dyn Fn(&Item)) {
    // Items warned about, by key, with their kind, site and last age.
    let mut warned: HashMap<u64, (String, String, Duration)> = HashMap::new();
    while !stop.load(Ordering::Relaxed) {
        let held = Snapshot::held_past(|kind| thresholds.of(kind));
        // A set: with thousands of items held, looking each warned-about one
        // up in a list would cost their count squared at every look.
        let mut seen = HashSet::with_capacity(held.len());
        for item in held.items() {
            seen.insert(item.key());
            match warned.get_mut(&item.key()) {
                Some(entry) => entry.2 = item.age(),
                None => {
                    warn(item);
                    on_held(item);
                    warned.insert(
                        item.key(),
                        (item.kind().to_owned(), item.site().to_string(), item.age()),
                    );
                }
            }
        }
        warned.retain(|key, (kind, site, age)| {
            let open = seen.contains(key);
            if !open {
                tracing::info!(
                    target: "leakwatch",
                    kind = %kind,
                    site = %site,
                    held = ?*age,
                    "{kind} opened at {site} released after about {age:?}",
                );
            }
            open
        });
        std::thread::park_timeout(period);
    }
}

/// The one warning for an item held past its threshold.
fn warn(item: &Item) {
    let detail = item.detail().unwrap_or("-");
    let stack = item.stack().map(|stack| {
        stack
            .frames()
            .iter()
            .map(|f| format!("\n    at {}", f.function))
            .collect::<String>()
    });
    tracing::warn!(
        target: "leakwatch",
        kind = item.kind(),
        detail,
        site = %item.site(),
        thread = item.thread(),
        age = ?item.age(),
        "{} held for {:?}, past its threshold, opened at {} on thread {} ({detail}){}",
        item.kind(),
        item.age(),
        item.site(),
        item.thread(),
        stack.unwrap_or_default(),
    );
}
