//! The suite's settings file, `.config/leakwatch.toml`: what every check of
//! a test suite knows about the suite, once.
//!
//! Known background work (a pool's reaper, a client's idle-connection
//! timer, a telemetry exporter) lingers in every test that touches it. Its
//! ignore rules, the kinds checked and the grace belong to the suite, so
//! they live in one file that every check reads: `#[leakwatch::test]`,
//! `leakwatch::check` and [`Scope::check`](crate::Scope::check) (unless the
//! scope was given rules of its own with
//! [`Scope::ignoring`](crate::Scope::ignoring)).
//!
//! ```toml
//! # .config/leakwatch.toml
//! grace = "500ms"
//! ignore = ["crate:bb8", "fn:bb8::inner::Reaper::run"]
//!
//! [detect]
//! fds = true
//! threads = true
//! children = true
//! tasks = true
//! heap = true
//! counted-tasks = "warn"  # or "fail" (the default), "off"
//! ```
//!
//! # Where it is found
//!
//! As cargo-nextest finds `.config/nextest.toml`: the package's
//! `.config/leakwatch.toml` (`CARGO_MANIFEST_DIR` at run time, which `cargo
//! test`, `cargo run` and nextest set), else the workspace's (the nearest
//! folder above with a `Cargo.toml` that has `[workspace]`). Without
//! `CARGO_MANIFEST_DIR` there is no file. It is looked up and read once per
//! process, at the first check; "no file" is remembered too, so a clean
//! check costs no file system access.
//!
//! # Precedence
//!
//! A test's attribute arguments, then the environment (`LEAKWATCH_GRACE`,
//! `LEAKWATCH_DETECT`), then this file, then the defaults. Ignore rules add
//! up: a test's own `ignore = ".."` adds to the file's.
//!
//! # Errors
//!
//! Never a silent default: a file that cannot be read, is not TOML, or has
//! a key or value leakwatch does not know makes every check fail with a
//! [`SettingsError`] naming the file, the line and the key.
//!
//! # Traces
//!
//! Nothing is left out without a trace: a check whose findings the file's
//! rules removed ends its report with which file and rules did
//! ([`Ignored`](crate::Ignored): `1 finding ignored by
//! .config/leakwatch.toml: crate:bb8`), and a passing check has the same
//! line ([`Scope::ignored`](crate::Scope::ignored)).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use crate::config::{DEFAULT_GRACE, SettingsError};
use crate::ignore::Ignore;

/// Where the settings file sits in a package or workspace.
const FILE: &str = ".config/leakwatch.toml";

/// What a suite's settings file says; every part is optional.
///
/// The file is `.config/leakwatch.toml` in the package
/// (`CARGO_MANIFEST_DIR` at run time), else in its workspace, as
/// cargo-nextest finds `.config/nextest.toml` ([`Settings::find`]), read
/// once per process ([`Settings::suite`]). Its keys: `grace` (a string
/// [`parse_grace`](crate::parse_grace) takes), `ignore` (an array of
/// [`Ignore`] rules, one per string) and the `[detect]` table of
/// [`Switches`]. A test's attribute goes over the environment
/// (`LEAKWATCH_GRACE`, `LEAKWATCH_DETECT`), which goes over the file, which
/// goes over the defaults; a test's own ignore rules add to the file's.
///
/// ```
/// use std::time::Duration;
/// use leakwatch_core::{CountedTasks, Ignore, Settings};
///
/// let text = "grace = \"1s\"\nignore = [\"crate:bb8\"]\ndetect.counted-tasks = \"warn\"\n";
/// let settings = Settings::parse(text, ".config/leakwatch.toml")?;
/// assert_eq!(settings.grace(), Some(Duration::from_secs(1)));
/// assert_eq!(settings.ignore(), [Ignore::Crate("bb8".into())]);
/// assert_eq!(settings.switches().counted_tasks, Some(CountedTasks::Warn));
/// # Ok::<(), leakwatch_core::SettingsError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    file: String,
    ignore: Vec<Ignore>,
    grace: Option<Duration>,
    switches: Switches,
}

/// The `[detect]` table: which kinds checks attribute. `None` where the file
/// does not say (the environment's or the default, on).
///
/// ```
/// let switches = leakwatch_core::Switches::default();
/// assert_eq!(switches.fds, None);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Switches {
    /// `fds`: descriptors created outside leakwatch's wrappers.
    pub fds: Option<bool>,
    /// `threads`: threads created outside leakwatch's wrappers.
    pub threads: Option<bool>,
    /// `children`: child processes created outside leakwatch's wrappers.
    pub children: Option<bool>,
    /// `tasks`: tokio tasks, tracked or counted.
    pub tasks: Option<bool>,
    /// `heap`: the heap line of a failing report.
    pub heap: Option<bool>,
    /// `counted-tasks`: what tasks that tokio counts but leakwatch has no
    /// record of (a library's, on a build without `--cfg tokio_unstable`)
    /// do to a test.
    pub counted_tasks: Option<CountedTasks>,
}

/// What tasks that a test's runtime still runs, with no record of where
/// they were spawned, do to the test: on a stable build they can only be
/// counted, so no rule can match them.
///
/// ```
/// assert_eq!("warn".parse(), Ok(leakwatch_core::CountedTasks::Warn));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountedTasks {
    /// Fail the test (the default).
    Fail,
    /// Print the count and pass.
    Warn,
    /// Say nothing.
    Off,
}

impl CountedTasks {
    /// The name the file uses.
    ///
    /// ```
    /// assert_eq!(leakwatch_core::CountedTasks::Off.as_str(), "off");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            CountedTasks::Fail => "fail",
            CountedTasks::Warn => "warn",
            CountedTasks::Off => "off",
        }
    }
}

impl std::str::FromStr for CountedTasks {
    type Err = ();

    fn from_str(s: &str) -> Result<CountedTasks, ()> {
        match s {
            "fail" => Ok(CountedTasks::Fail),
            "warn" => Ok(CountedTasks::Warn),
            "off" => Ok(CountedTasks::Off),
            _ => Err(()),
        }
    }
}

impl Settings {
    /// Parses the text of a settings file; `file` is how errors and traces
    /// name it.
    ///
    /// # Errors
    ///
    /// Text that is not TOML, a key that is not one of those listed at
    /// [`Settings`], a value of the wrong type, a malformed rule or
    /// grace: a [`SettingsError`] naming `file`, the line and the key. A
    /// build without the `settings` feature cannot read one.
    ///
    /// ```
    /// let err = leakwatch_core::Settings::parse("ignore = [\"task\"]", "s.toml").unwrap_err();
    /// assert_eq!(err.key(), Some("ignore"));
    /// assert!(err.to_string().starts_with("s.toml, line 1, `ignore`: "));
    /// ```
    pub fn parse(text: &str, file: &str) -> Result<Settings, SettingsError> {
        imp::parse(text, file)
    }

    /// Reads and parses the file at `path`, naming it `file`.
    ///
    /// # Errors
    ///
    /// As [`Settings::parse`], and when the file cannot be read.
    ///
    /// ```
    /// let err = leakwatch_core::Settings::read(std::path::Path::new("/nonexistent/x.toml"), "x.toml")
    ///     .unwrap_err();
    /// assert!(err.to_string().starts_with("x.toml: cannot be read: "));
    /// ```
    pub fn read(path: &Path, file: &str) -> Result<Settings, SettingsError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Settings::parse(&text, file),
            Err(err) => Err(SettingsError::new(
                file,
                None,
                None,
                format!("cannot be read: {err}"),
            )),
        }
    }

    /// The settings file for a package in `package_dir`: its own
    /// `.config/leakwatch.toml` if there is one, else its workspace's; with
    /// how reports name it (relative to the workspace root, or to the
    /// package when it is in no workspace).
    ///
    /// ```
    /// let dir = std::env::temp_dir().join("leakwatch-doc-find");
    /// std::fs::create_dir_all(dir.join(".config")).unwrap();
    /// std::fs::write(dir.join(".config/leakwatch.toml"), "grace = \"1s\"").unwrap();
    /// let (path, shown) = leakwatch_core::Settings::find(&dir).unwrap();
    /// assert_eq!(path, dir.join(".config/leakwatch.toml"));
    /// assert_eq!(shown, ".config/leakwatch.toml");
    /// ```
    pub fn find(package_dir: &Path) -> Option<(PathBuf, String)> {
        let workspace = package_dir
            .ancestors()
            .find(|dir| is_workspace_root(dir))
            .map(Path::to_path_buf);
        let shown_from = workspace.as_deref().unwrap_or(package_dir);
        let candidates = std::iter::once(package_dir).chain(workspace.as_deref());
        candidates
            .map(|dir| dir.join(FILE))
            // A folder or an unreadable file in its place is still found,
            // so that reading it fails loudly.
            .find(|path| path.symlink_metadata().is_ok())
            .map(|path| {
                let shown = path
                    .strip_prefix(shown_from)
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                (path, shown)
            })
    }

    /// The settings of the suite this process runs: found from
    /// `CARGO_MANIFEST_DIR` and read at the first call, then kept for the
    /// process (see [`Settings`]). `Ok(None)` when there is no
    /// file, or tracking is compiled out.
    ///
    /// # Errors
    ///
    /// The file's error, every time: it fails every check.
    ///
    /// ```
    /// match leakwatch_core::Settings::suite() {
    ///     Ok(Some(settings)) => println!("settings from {}", settings.file()),
    ///     Ok(None) => println!("no settings file"),
    ///     Err(err) => eprintln!("{err}"),
    /// }
    /// ```
    pub fn suite() -> Result<Option<&'static Settings>, &'static SettingsError> {
        static SUITE: OnceLock<Result<Option<Settings>, SettingsError>> = OnceLock::new();
        if !crate::COMPILED_IN {
            return Ok(None);
        }
        SUITE.get_or_init(load_suite).as_ref().map(Option::as_ref)
    }

    /// How reports and errors name the file.
    ///
    /// ```
    /// let settings = leakwatch_core::Settings::parse("", "a/leakwatch.toml").unwrap();
    /// assert_eq!(settings.file(), "a/leakwatch.toml");
    /// ```
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The `ignore` rules, in the file's order.
    ///
    /// ```
    /// let settings = leakwatch_core::Settings::parse("ignore = [\"kind:task\"]", "s").unwrap();
    /// assert_eq!(settings.ignore().len(), 1);
    /// ```
    pub fn ignore(&self) -> &[Ignore] {
        &self.ignore
    }

    /// The `grace`, if the file sets one.
    ///
    /// ```
    /// let settings = leakwatch_core::Settings::parse("grace = \"0\"", "s").unwrap();
    /// assert_eq!(settings.grace(), Some(std::time::Duration::ZERO));
    /// ```
    pub fn grace(&self) -> Option<Duration> {
        self.grace
    }

    /// The `[detect]` switches.
    ///
    /// ```
    /// let settings = leakwatch_core::Settings::parse("detect.fds = false", "s").unwrap();
    /// assert_eq!(settings.switches().fds, Some(false));
    /// ```
    pub fn switches(&self) -> Switches {
        self.switches
    }
}

fn is_workspace_root(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml"))
        .is_ok_and(|text| text.lines().any(|line| line.trim() == "[workspace]"))
}

#[cold]
fn load_suite() -> Result<Option<Settings>, SettingsError> {
    let Some(package) = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from) else {
        return Ok(None);
    };
    let Some((path, shown)) = Settings::find(&package) else {
        return Ok(None);
    };
    let settings = Settings::read(&path, &shown);
    if let Err(err) = &settings {
        eprintln!("leakwatch: error: {err}; failing every check until it is fixed");
    }
    settings.map(Some)
}

/// How long checks wait: `LEAKWATCH_GRACE`, else the suite's settings file's
/// `grace`, else [`DEFAULT_GRACE`]. A bad value in either gives the default
/// and fails every check.
///
/// ```
/// if std::env::var_os("LEAKWATCH_GRACE").is_none()
///     && leakwatch_core::Settings::suite().is_ok_and(|s| s.is_none())
/// {
///     assert_eq!(leakwatch_core::grace(), leakwatch_core::DEFAULT_GRACE);
/// }
/// ```
pub fn grace() -> Duration {
    if let Some(grace) = crate::config::env_grace_if_set() {
        return grace;
    }
    match Settings::suite() {
        Ok(Some(settings)) => settings.grace.unwrap_or(DEFAULT_GRACE),
        _ => DEFAULT_GRACE,
    }
}

/// The rules of the suite's file that a scope without rules of its own
/// applies, with the file's name; `None` when there are none.
pub(crate) fn suite_rules() -> Option<(&'static str, &'static [Ignore])> {
    match Settings::suite() {
        Ok(Some(settings)) if !settings.ignore.is_empty() => {
            Some((settings.file.as_str(), settings.ignore.as_slice()))
        }
        _ => None,
    }
}

/// The suite's file's error, which fails every check.
pub(crate) fn suite_error() -> Option<&'static SettingsError> {
    Settings::suite().err()
}

// The file's TOML, read with the `settings` feature; without it a file is
// an error.
#[cfg(feature = "settings")]
#[path = "toml.rs"]
mod imp;
#[cfg(not(feature = "settings"))]
#[path = "no_toml.rs"]
mod imp;

#[cfg(all(test, feature = "settings"))]
mod tests;
