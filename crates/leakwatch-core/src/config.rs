//! The run-time level, read once from the `LEAKWATCH` environment variable.
//!
//! `LEAKWATCH` takes `off`, `sampled` (1 item in 128 recorded, or 1 in N
//! with `sampled:N`), `sites` (the default) or `stacks`. A value that is
//! none of these is never replaced by a silent default: tracking falls back to
//! `sites` so nothing is missed, the error is printed once to standard error,
//! and every [`Scope::check`](crate::Scope::check) fails with it until the
//! variable is fixed. [`set_level`] switches the level while the program
//! runs.
//!
//! `LEAKWATCH_GRACE` sets how long a check waits for items still open before
//! it reports them (over the suite's settings file, see
//! [`grace`](crate::grace)), in the form [`parse_grace`] takes; a bad value
//! is treated the same way.
//!
//! [`SettingsError`] is the settings file's error (the file is read in
//! `settings`), kept here with the environment's.

#[cfg(any(debug_assertions, feature = "production"))]
use std::cell::Cell;
use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
use std::time::Duration;

/// How many items `sampled` records one of, unless told: Netty's default.
pub const DEFAULT_SAMPLE: NonZeroU32 = NonZeroU32::new(128).unwrap();

/// How much leakwatch records for each opened resource.
///
/// ```
/// use leakwatch_core::Level;
///
/// let level: Level = "stacks".parse().unwrap();
/// assert_eq!(level, Level::Stacks);
/// assert_eq!("sampled:64".parse::<Level>().unwrap().to_string(), "sampled:64");
/// assert!("stack".parse::<Level>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Record nothing; every check passes. An open costs one relaxed load.
    Off,
    /// Record one item in N, chosen at random when it opens, whole (as at
    /// `Sites`) or not at all: cheap enough to leave on in production, and
    /// a steady leak still shows (Netty's sampling). Checks see only the
    /// recorded items, so tests want `Sites`.
    Sampled(NonZeroU32),
    /// Record the kind, call site, detail, time, thread and scope (default).
    Sites,
    /// Also capture the raw stack at open, symbolized only when a report is
    /// printed. Needs the `stacks` feature (on by default).
    Stacks,
}

impl Level {
    /// The name `LEAKWATCH` uses for this level.
    ///
    /// ```
    /// assert_eq!(leakwatch_core::Level::Sites.as_str(), "sites");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Off => "off",
            Level::Sampled(_) => "sampled",
            Level::Sites => "sites",
            Level::Stacks => "stacks",
        }
    }

    const fn to_u8(self) -> u8 {
        match self {
            Level::Off => 1,
            Level::Sites => 2,
            Level::Stacks => 3,
            Level::Sampled(_) => 4,
        }
    }

    #[inline]
    fn from_u8(v: u8) -> Level {
        match v {
            1 => Level::Off,
            3 => Level::Stacks,
            4 => Level::Sampled(sample_one_in()),
            _ => Level::Sites,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Level::Sampled(n) => write!(f, "sampled:{n}"),
            level => f.write_str(level.as_str()),
        }
    }
}

impl FromStr for Level {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Level, ConfigError> {
        let bad = |reason| ConfigError {
            setting: "LEAKWATCH",
            value: s.to_owned(),
            reason,
        };
        match s.trim() {
            "off" => Ok(Level::Off),
            "sampled" => Ok(Level::Sampled(DEFAULT_SAMPLE)),
            sampled if sampled.starts_with("sampled:") => sampled["sampled:".len()..]
                .parse::<NonZeroU32>()
                .map(Level::Sampled)
                .map_err(|_| {
                    bad("`sampled:N` takes a whole number of items from 1 up, one in N recorded")
                }),
            "sites" => Ok(Level::Sites),
            "stacks" if cfg!(feature = "stacks") => Ok(Level::Stacks),
            "stacks" => Err(ConfigError {
                setting: "LEAKWATCH",
                value: s.to_owned(),
                reason: "this build of leakwatch has no `stacks` feature",
            }),
            _ => Err(bad(
                "expected one of `off`, `sampled`, `sampled:N`, `sites`, `stacks`",
            )),
        }
    }
}

/// A bad `LEAKWATCH` value, quoted as it was given.
///
/// ```
/// let err = "verbose".parse::<leakwatch_core::Level>().unwrap_err();
/// assert_eq!(err.value(), "verbose");
/// assert!(err.to_string().contains("`verbose`"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    setting: &'static str,
    value: String,
    reason: &'static str,
}

impl ConfigError {
    /// An error for `setting`, quoting `value`, with the reason it is bad.
    pub(crate) fn new(setting: &'static str, value: &str, reason: &'static str) -> ConfigError {
        ConfigError {
            setting,
            value: value.to_owned(),
            reason,
        }
    }

    /// The value that could not be used.
    ///
    /// ```
    /// let err = "".parse::<leakwatch_core::Level>().unwrap_err();
    /// assert_eq!(err.value(), "");
    /// ```
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}=`{}` is not valid: {}",
            self.setting, self.value, self.reason
        )
    }
}

impl std::error::Error for ConfigError {}

/// How long a check waits by default for items still open: long enough for
/// work that is closing to finish, short enough that a leaky test fails fast.
///
/// ```
/// assert_eq!(leakwatch_core::DEFAULT_GRACE, std::time::Duration::from_millis(300));
/// ```
pub const DEFAULT_GRACE: Duration = Duration::from_millis(300);

/// Parses a duration as every setting of leakwatch takes one
/// (`LEAKWATCH_GRACE`, `#[leakwatch::test(grace = "...")]`, the settings
/// file's `grace`, `LEAKWATCH_HELD`'s thresholds): a number and a unit, one
/// of `us`, `ms`, `s`, `m`, `h`; `0` alone is zero.
///
/// ```
/// use std::time::Duration;
/// use leakwatch_core::parse_grace;
///
/// assert_eq!(parse_grace("250ms"), Ok(Duration::from_millis(250)));
/// assert_eq!(parse_grace("1.5s"), Ok(Duration::from_millis(1500)));
/// assert_eq!(parse_grace("0"), Ok(Duration::ZERO));
/// assert_eq!(parse_grace("10m"), Ok(Duration::from_secs(600)));
/// assert_eq!(parse_grace("1h"), Ok(Duration::from_secs(3600)));
/// assert!(parse_grace("2 minutes").is_err());
/// ```
pub fn parse_grace(s: &str) -> Result<Duration, ConfigError> {
    parse_duration(s).ok_or_else(|| ConfigError {
        setting: "grace",
        value: s.to_owned(),
        reason: "expected a number and a unit (us, ms, s, m, h), such as `300ms` or `1.5s`",
    })
}

fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = s.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "us" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(seconds).ok()
}

/// 0 = not read yet, otherwise `Level::to_u8`.
static LEVEL: AtomicU8 = AtomicU8::new(0);
/// `Sampled`'s N, kept apart so that the level is one byte to load.
static SAMPLE_ONE_IN: AtomicU32 = AtomicU32::new(DEFAULT_SAMPLE.get());

fn sample_one_in() -> NonZeroU32 {
    NonZeroU32::new(SAMPLE_ONE_IN.load(Ordering::Relaxed)).unwrap_or(DEFAULT_SAMPLE)
}

#[cfg(any(debug_assertions, feature = "production"))]
thread_local! {
    /// The thread's random state for sampling (xorshift64*), seeded on
    /// first use; without a destructor.
    static SAMPLER: Cell<u64> = const { Cell::new(0) };
}

#[cfg(any(debug_assertions, feature = "production"))]
/// The level an item opening now is recorded at: `None` at `off`, and for
/// all but one in `n` at `Sampled(n)`.
#[inline]
pub(crate) fn level_for_open() -> Option<Level> {
    match level() {
        Level::Off => None,
        Level::Sampled(one_in) if sampled_out(one_in) => None,
        level => Some(level),
    }
}

#[cfg(any(debug_assertions, feature = "production"))]
/// At `Sampled(n)`, whether the item opening now is left out: true for all
/// but one in `n`, at random (each item independently).
#[inline]
fn sampled_out(one_in: NonZeroU32) -> bool {
    let mut x = SAMPLER.get();
    if x == 0 {
        // std's per-process random keys, which differ for each hasher made.
        use std::hash::{BuildHasher, Hasher};
        x = std::hash::RandomState::new().build_hasher().finish() | 1;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    SAMPLER.set(x);
    let draw = (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32;
    // `draw * n / 2^32` is uniform over `0..n` (to within n / 2^32).
    (u64::from(draw) * u64::from(one_in.get())) >> 32 != 0
}

/// For tests: seeds the calling thread's sampler, so that which items
/// `sampled:N` records on this thread is the same from run to run.
///
/// Production sampling never calls it: each thread's sampler is seeded
/// from std's per-process random keys on first use. A test that asserts
/// how close a sampled estimate is to the truth seeds it first, and the
/// bound it asserts then holds or fails every time, not by chance; each
/// `seed` (0 included) gives one fixed sequence. Nothing happens when
/// tracking is compiled out.
///
/// ```
/// use std::num::NonZeroU32;
/// use leakwatch_core::{Level, Tag};
///
/// let recorded = || {
///     leakwatch_core::__seed_sampler(7);
///     leakwatch_core::set_level(Level::Sampled(NonZeroU32::new(4).unwrap()));
///     let tags: Vec<Tag> = (0..100).map(|_| Tag::new("seeded")).collect();
///     leakwatch_core::set_level(Level::Sites);
///     tags.iter().map(Tag::is_tracked).collect::<Vec<bool>>()
/// };
/// assert_eq!(recorded(), recorded());
/// ```
#[doc(hidden)]
pub fn __seed_sampler(seed: u64) {
    #[cfg(any(debug_assertions, feature = "production"))]
    // xorshift's state must not be 0, which also means "not seeded yet".
    SAMPLER.set(if seed == 0 {
        0x9E37_79B9_7F4A_7C15
    } else {
        seed
    });
    #[cfg(not(any(debug_assertions, feature = "production")))]
    let _ = seed;
}

#[cfg(any(debug_assertions, feature = "production"))]
static ENV_ERROR: OnceLock<Option<ConfigError>> = OnceLock::new();

/// The level in force: set by [`set_level`], else read once from `LEAKWATCH`.
///
/// Always [`Level::Off`] when tracking is compiled out.
///
/// ```
/// use leakwatch_core::{Level, level};
///
/// if leakwatch_core::COMPILED_IN && std::env::var_os("LEAKWATCH").is_none() {
///     assert_eq!(level(), Level::Sites);
/// }
/// ```
#[inline]
pub fn level() -> Level {
    if !crate::COMPILED_IN {
        return Level::Off;
    }
    match LEVEL.load(Ordering::Relaxed) {
        0 => init_from_env(),
        v => Level::from_u8(v),
    }
}

/// The level in force if it is known already ([`set_level`] called, or
/// `LEAKWATCH` read by [`level`] or by creating a [`Scope`](crate::Scope)),
/// without reading the environment: for code that may run while std holds
/// its environment lock (a `fork` or `posix_spawn` hook), where reading it
/// could wait on that lock forever. `Some(Level::Off)` when tracking is
/// compiled out.
///
/// ```
/// let _scope = leakwatch_core::Scope::new("s");
/// assert_eq!(leakwatch_core::level_if_known(), Some(leakwatch_core::level()));
/// ```
#[inline]
pub fn level_if_known() -> Option<Level> {
    if !crate::COMPILED_IN {
        return Some(Level::Off);
    }
    match LEVEL.load(Ordering::Relaxed) {
        0 => None,
        v => Some(Level::from_u8(v)),
    }
}

/// Overrides `LEAKWATCH` for the whole process, for programs and benchmarks
/// that choose the level in code. Items already open keep what they recorded.
///
/// ```
/// use leakwatch_core::{Level, set_level};
///
/// set_level(Level::Sites);
/// ```
pub fn set_level(level: Level) {
    if let Level::Sampled(n) = level {
        SAMPLE_ONE_IN.store(n.get(), Ordering::Relaxed);
    }
    LEVEL.store(level.to_u8(), Ordering::Relaxed);
}

/// The error in `LEAKWATCH` or `LEAKWATCH_GRACE`, if a value is not usable.
#[cfg(any(debug_assertions, feature = "production"))]
pub(crate) fn env_error() -> Option<&'static ConfigError> {
    ENV_ERROR
        .get_or_init(|| {
            let level = parse_env(std::env::var("LEAKWATCH")).err();
            level.or_else(|| env_grace().err())
        })
        .as_ref()
}

/// `LEAKWATCH_GRACE`'s grace, `None` when it is not set; read once. A bad
/// value is printed once and gives [`DEFAULT_GRACE`] (and fails every check,
/// see the module docs), so that the settings file below it cannot stand in
/// for it silently.
pub(crate) fn env_grace_if_set() -> Option<Duration> {
    static GRACE: OnceLock<Option<Duration>> = OnceLock::new();
    *GRACE.get_or_init(|| match env_grace() {
        Ok(grace) => grace,
        Err(err) => {
            eprintln!(
                "leakwatch: {err}; waiting {DEFAULT_GRACE:?} and failing every check until it is fixed"
            );
            Some(DEFAULT_GRACE)
        }
    })
}

fn env_grace() -> Result<Option<Duration>, ConfigError> {
    match std::env::var("LEAKWATCH_GRACE") {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Ok(value) => parse_grace(&value).map(Some).map_err(|e| ConfigError {
            setting: "LEAKWATCH_GRACE",
            ..e
        }),
        Err(std::env::VarError::NotUnicode(raw)) => Err(ConfigError {
            setting: "LEAKWATCH_GRACE",
            value: raw.to_string_lossy().into_owned(),
            reason: "the value is not valid UTF-8",
        }),
    }
}

/// A settings file that cannot be used: unreadable, not TOML, or with a key
/// or value leakwatch does not know. It names the file, the line and the
/// key, and fails every check until the file is fixed.
///
/// ```
/// use leakwatch_core::Settings;
///
/// let err = Settings::parse("grace = \"1s\"\nignor = []\n", ".config/leakwatch.toml").unwrap_err();
/// assert_eq!(err.file(), ".config/leakwatch.toml");
/// assert_eq!(err.line(), Some(2));
/// assert_eq!(err.key(), Some("ignor"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingsError {
    file: String,
    line: Option<usize>,
    key: Option<String>,
    reason: String,
}

impl SettingsError {
    /// An error in `file` at `line` (1-based), about `key`.
    pub(crate) fn new(
        file: &str,
        line: Option<usize>,
        key: Option<&str>,
        reason: impl Into<String>,
    ) -> SettingsError {
        SettingsError {
            file: file.to_owned(),
            line,
            key: key.map(str::to_owned),
            reason: reason.into(),
        }
    }

    /// The file, as reports name it.
    ///
    /// ```
    /// let err = leakwatch_core::Settings::parse("x = 1", "leakwatch.toml").unwrap_err();
    /// assert_eq!(err.file(), "leakwatch.toml");
    /// ```
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The line the error is on, from 1; `None` when the file could not be
    /// read.
    ///
    /// ```
    /// let err = leakwatch_core::Settings::parse("\n\nx = 1", "leakwatch.toml").unwrap_err();
    /// assert_eq!(err.line(), Some(3));
    /// ```
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The key whose value or name is bad, dotted from the top
    /// (`detect.fds`); `None` for a file that is not TOML at all.
    ///
    /// ```
    /// let err = leakwatch_core::Settings::parse("[detect]\nfds = 1", "leakwatch.toml").unwrap_err();
    /// assert_eq!(err.key(), Some("detect.fds"));
    /// ```
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ", `{key}`")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for SettingsError {}

#[cold]
fn init_from_env() -> Level {
    let level = match parse_env(std::env::var("LEAKWATCH")) {
        Ok(level) => level,
        Err(err) => {
            eprintln!(
                "leakwatch: {err}; tracking at `sites` and failing every check until it is fixed"
            );
            Level::Sites
        }
    };
    // A concurrent `set_level` wins over the environment.
    if let Level::Sampled(n) = level {
        SAMPLE_ONE_IN.store(n.get(), Ordering::Relaxed);
    }
    let _ = LEVEL.compare_exchange(0, level.to_u8(), Ordering::Relaxed, Ordering::Relaxed);
    Level::from_u8(LEVEL.load(Ordering::Relaxed))
}

fn parse_env(var: Result<String, std::env::VarError>) -> Result<Level, ConfigError> {
    match var {
        Ok(value) => value.parse(),
        Err(std::env::VarError::NotPresent) => Ok(Level::Sites),
        Err(std::env::VarError::NotUnicode(raw)) => Err(ConfigError {
            setting: "LEAKWATCH",
            value: raw.to_string_lossy().into_owned(),
            reason: "the value is not valid UTF-8",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_level_and_rejects_the_rest() {
        assert_eq!("off".parse(), Ok(Level::Off));
        assert_eq!(" sites ".parse(), Ok(Level::Sites));
        assert_eq!("stacks".parse::<Level>().is_ok(), cfg!(feature = "stacks"));
        let err = "Sites".parse::<Level>().unwrap_err();
        assert_eq!(err.value(), "Sites");
        assert_eq!(
            err.to_string(),
            "LEAKWATCH=`Sites` is not valid: expected one of `off`, `sampled`, `sampled:N`, `sites`, `stacks`"
        );
    }

    #[test]
    fn grace_takes_a_number_and_a_unit() {
        assert_eq!(parse_grace("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_grace(" 2s "), Ok(Duration::from_secs(2)));
        assert_eq!(parse_grace("750us"), Ok(Duration::from_micros(750)));
        assert_eq!(parse_grace("0"), Ok(Duration::ZERO));
        assert_eq!(parse_grace("5m"), Ok(Duration::from_secs(300)));
        for bad in ["", "300", "ms", "1.2.3s", "5d", "-1s", "2 s", "1e9999s"] {
            let err = parse_grace(bad).unwrap_err();
            assert_eq!(err.value(), bad);
            assert!(
                err.to_string()
                    .starts_with(&format!("grace=`{bad}` is not valid")),
                "{err}"
            );
        }
    }

    #[test]
    fn missing_variable_means_sites() {
        assert_eq!(
            parse_env(Err(std::env::VarError::NotPresent)),
            Ok(Level::Sites)
        );
        assert!(parse_env(Ok("everything".into())).is_err());
    }

    #[test]
    fn level_round_trips_through_u8() {
        for level in [Level::Off, Level::Sites, Level::Stacks] {
            assert_eq!(Level::from_u8(level.to_u8()), level);
        }
    }
}
