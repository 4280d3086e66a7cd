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

#[cfg(feature = "settings")]
mod imp {
    //! The file's TOML, walked with spans so that every error has its line.

    use std::ops::Range;

    use toml::Spanned;
    use toml::de::{DeTable, DeValue};

    use super::{CountedTasks, Settings, Switches};
    use crate::config::{SettingsError, parse_grace};
    use crate::ignore::Ignore;

    const TOP: &str = "`grace`, `ignore`, `detect`";
    const DETECT: &str = "`fds`, `threads`, `children`, `tasks`, `heap`, `counted-tasks`";

    /// The text with the file's name, to turn spans into errors.
    struct Source<'a> {
        text: &'a str,
        file: &'a str,
    }

    impl Source<'_> {
        fn line(&self, span: Range<usize>) -> usize {
            let end = span.start.min(self.text.len());
            self.text.as_bytes()[..end]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1
        }

        fn error(&self, span: Range<usize>, key: &str, reason: impl Into<String>) -> SettingsError {
            SettingsError::new(self.file, Some(self.line(span)), Some(key), reason)
        }
    }

    fn type_name(value: &DeValue<'_>) -> &'static str {
        match value {
            DeValue::String(_) => "a string",
            DeValue::Integer(_) => "an integer",
            DeValue::Float(_) => "a float",
            DeValue::Boolean(_) => "a boolean",
            DeValue::Datetime(_) => "a date",
            DeValue::Array(_) => "an array",
            DeValue::Table(_) => "a table",
        }
    }

    pub(super) fn parse(text: &str, file: &str) -> Result<Settings, SettingsError> {
        let source = Source { text, file };
        let table = DeTable::parse(text).map_err(|err| {
            let line = err.span().map(|span| source.line(span));
            SettingsError::new(
                file,
                line,
                None,
                format!("not valid TOML: {}", err.message().trim_end()),
            )
        })?;
        let mut settings = Settings {
            file: file.to_owned(),
            ..Settings::default()
        };
        for (key, value) in table.get_ref() {
            let span = key.span();
            match key.get_ref().as_ref() {
                "grace" => {
                    let text = string(&source, "grace", value)?;
                    let grace = parse_grace(text)
                        .map_err(|err| source.error(value.span(), "grace", err.to_string()))?;
                    settings.grace = Some(grace);
                }
                "ignore" => settings.ignore = rules(&source, value)?,
                "detect" => settings.switches = switches(&source, value)?,
                other => {
                    return Err(source.error(
                        span,
                        other,
                        format!("unknown key; expected one of {TOP}"),
                    ));
                }
            }
        }
        Ok(settings)
    }

    fn string<'v>(
        source: &Source<'_>,
        key: &str,
        value: &'v Spanned<DeValue<'_>>,
    ) -> Result<&'v str, SettingsError> {
        match value.get_ref() {
            DeValue::String(text) => Ok(text.as_ref()),
            other => Err(source.error(
                value.span(),
                key,
                format!("expected a string, found {}", type_name(other)),
            )),
        }
    }

    fn boolean(
        source: &Source<'_>,
        key: &str,
        value: &Spanned<DeValue<'_>>,
    ) -> Result<bool, SettingsError> {
        match value.get_ref() {
            DeValue::Boolean(on) => Ok(*on),
            other => Err(source.error(
                value.span(),
                key,
                format!("expected true or false, found {}", type_name(other)),
            )),
        }
    }

    /// `ignore`: an array of strings, one rule each.
    fn rules(
        source: &Source<'_>,
        value: &Spanned<DeValue<'_>>,
    ) -> Result<Vec<Ignore>, SettingsError> {
        let DeValue::Array(items) = value.get_ref() else {
            return Err(source.error(
                value.span(),
                "ignore",
                format!(
                    "expected an array of rules such as [\"crate:bb8\"], found {}",
                    type_name(value.get_ref())
                ),
            ));
        };
        let mut rules = Vec::with_capacity(items.len());
        for item in items {
            let text = string(source, "ignore", item)?;
            let parsed = Ignore::parse(text)
                .map_err(|err| source.error(item.span(), "ignore", err.to_string()))?;
            match <[Ignore; 1]>::try_from(parsed) {
                Ok([rule]) => rules.push(rule),
                Err(_) => {
                    return Err(source.error(
                        item.span(),
                        "ignore",
                        format!("`{text}` is not one rule: write each rule as a string of its own"),
                    ));
                }
            }
        }
        Ok(rules)
    }

    /// `[detect]`.
    fn switches(
        source: &Source<'_>,
        value: &Spanned<DeValue<'_>>,
    ) -> Result<Switches, SettingsError> {
        let DeValue::Table(table) = value.get_ref() else {
            return Err(source.error(
                value.span(),
                "detect",
                format!("expected a table, found {}", type_name(value.get_ref())),
            ));
        };
        let mut switches = Switches::default();
        for (key, value) in table {
            let name = key.get_ref().as_ref();
            let dotted = format!("detect.{name}");
            let slot = match name {
                "fds" => &mut switches.fds,
                "threads" => &mut switches.threads,
                "children" => &mut switches.children,
                "tasks" => &mut switches.tasks,
                "heap" => &mut switches.heap,
                "counted-tasks" => {
                    let text = string(source, &dotted, value)?;
                    let counted = text.parse::<CountedTasks>().map_err(|()| {
                        source.error(
                            value.span(),
                            &dotted,
                            format!("`{text}` is not one of `fail`, `warn`, `off`"),
                        )
                    })?;
                    switches.counted_tasks = Some(counted);
                    continue;
                }
                _ => {
                    return Err(source.error(
                        key.span(),
                        &dotted,
                        format!("unknown key; expected one of {DETECT}"),
                    ));
                }
            };
            *slot = Some(boolean(source, &dotted, value)?);
        }
        Ok(switches)
    }
}

#[cfg(not(feature = "settings"))]
mod imp {
    //! Without the `settings` feature a file is an error, never ignored.

    use super::Settings;
    use crate::config::SettingsError;

    pub(super) fn parse(_text: &str, file: &str) -> Result<Settings, SettingsError> {
        Err(SettingsError::new(
            file,
            None,
            None,
            "this build of leakwatch has no `settings` feature to read it",
        ))
    }
}

#[cfg(all(test, feature = "settings"))]
mod tests {
    use super::*;

    fn error(text: &str) -> SettingsError {
        Settings::parse(text, FILE).unwrap_err()
    }

    #[test]
    fn reads_every_key() {
        let text = "grace = \"1.5s\"\nignore = [\"crate:bb8\", \"fn:bb8::inner::Reaper::run\", \"kind:metrics\"]\n\n[detect]\nfds = false\nthreads = true\nchildren = false\ntasks = true\nheap = false\ncounted-tasks = \"off\"\n";
        let settings = Settings::parse(text, FILE).unwrap();
        assert_eq!(settings.file(), FILE);
        assert_eq!(settings.grace(), Some(Duration::from_millis(1500)));
        assert_eq!(
            settings.ignore(),
            [
                Ignore::Crate("bb8".into()),
                Ignore::Fn("bb8::inner::Reaper::run".into()),
                Ignore::Kind("metrics".into()),
            ]
        );
        assert_eq!(
            settings.switches(),
            Switches {
                fds: Some(false),
                threads: Some(true),
                children: Some(false),
                tasks: Some(true),
                heap: Some(false),
                counted_tasks: Some(CountedTasks::Off),
            }
        );
        assert_eq!(
            Settings::parse("# nothing\n", FILE).unwrap().switches(),
            Switches::default()
        );
    }

    #[test]
    fn an_unknown_key_names_its_line_and_key() {
        let err = error("grace = \"1s\"\n\nignored = []\n");
        assert_eq!((err.line(), err.key()), (Some(3), Some("ignored")));
        assert_eq!(
            err.to_string(),
            ".config/leakwatch.toml, line 3, `ignored`: unknown key; expected one of `grace`, `ignore`, `detect`"
        );
        let err = error("[detect]\nfds = true\nsockets = false\n");
        assert_eq!((err.line(), err.key()), (Some(3), Some("detect.sockets")));
        assert!(
            err.to_string().contains("expected one of `fds`, `threads`"),
            "{err}"
        );
    }

    #[test]
    fn a_malformed_rule_names_its_line_and_key() {
        let err = error("ignore = [\n  \"crate:bb8\",\n  \"module:bb8\",\n]\n");
        assert_eq!((err.line(), err.key()), (Some(3), Some("ignore")));
        assert!(
            err.to_string().contains("ignore=`module:bb8` is not valid"),
            "{err}"
        );
        let err = error("ignore = [\"crate:bb8, kind:task\"]");
        assert!(err.to_string().contains("is not one rule"), "{err}");
        let err = error("grace = \"soon\"");
        assert_eq!((err.line(), err.key()), (Some(1), Some("grace")));
        let err = error("detect.counted-tasks = \"maybe\"");
        assert_eq!(err.key(), Some("detect.counted-tasks"));
        assert!(
            err.to_string()
                .ends_with("`maybe` is not one of `fail`, `warn`, `off`"),
            "{err}"
        );
    }

    #[test]
    fn a_wrong_type_names_its_line_and_key() {
        for (text, line, key, found) in [
            ("ignore = \"crate:bb8\"", 1, "ignore", "a string"),
            ("ignore = [1]", 1, "ignore", "an integer"),
            ("\ngrace = 300", 2, "grace", "an integer"),
            ("[detect]\nfds = \"no\"", 2, "detect.fds", "a string"),
            ("detect = true", 1, "detect", "a boolean"),
        ] {
            let err = error(text);
            assert_eq!((err.line(), err.key()), (Some(line), Some(key)), "{text}");
            assert!(err.to_string().contains(&format!("found {found}")), "{err}");
        }
    }

    #[test]
    fn text_that_is_not_toml_names_its_line() {
        let err = error("grace = \"1s\"\nignore = [\"kind:task\"\n");
        assert_eq!(err.line(), Some(2));
        assert_eq!(err.key(), None);
        assert!(
            err.to_string()
                .starts_with(".config/leakwatch.toml, line 2: not valid TOML: "),
            "{err}"
        );
    }

    #[test]
    fn an_unreadable_file_is_an_error() {
        let dir = std::env::temp_dir().join(format!("leakwatch-unreadable-{}", std::process::id()));
        std::fs::create_dir_all(dir.join(FILE)).unwrap();
        let (path, shown) = Settings::find(&dir).expect("a folder in the file's place is found");
        let err = Settings::read(&path, &shown).unwrap_err();
        assert_eq!((err.file(), err.line(), err.key()), (FILE, None, None));
        assert!(
            err.to_string()
                .starts_with(".config/leakwatch.toml: cannot be read: "),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_package_file_comes_before_the_workspace_file() {
        let root = std::env::temp_dir().join(format!("leakwatch-find-{}", std::process::id()));
        let package = root.join("crates/app");
        std::fs::create_dir_all(package.join(".config")).unwrap();
        std::fs::create_dir_all(root.join(".config")).unwrap();
        std::fs::write(
            root.join("Cargo.toml"),
            "[workspace]\nmembers = [\"crates/app\"]\n",
        )
        .unwrap();
        std::fs::write(package.join("Cargo.toml"), "[package]\nname = \"app\"\n").unwrap();
        assert_eq!(Settings::find(&package), None);
        std::fs::write(root.join(FILE), "").unwrap();
        assert_eq!(
            Settings::find(&package),
            Some((root.join(FILE), FILE.to_owned()))
        );
        std::fs::write(package.join(FILE), "").unwrap();
        assert_eq!(
            Settings::find(&package),
            Some((package.join(FILE), format!("crates/app/{FILE}")))
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
