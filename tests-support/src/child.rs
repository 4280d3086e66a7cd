//! Tests that must fail, and tests that need a process of their own, run
//! in a child process of this test binary.
//!
//! A test that fails on purpose (a leak under `#[leakwatch::test]`, a bad
//! `LEAKWATCH`) is marked `#[ignore]` so that a plain `cargo test` never
//! runs it; a parent test runs it alone ([`run`], [`Rerun::ignored`]) and
//! checks how it failed. The parent also checks how many tests the child
//! ran, so a renamed or filtered-out child fails the parent instead of
//! passing it.
//!
//! The child never inherits a `LEAKWATCH*` variable: what it sees is what
//! the parent sets with [`Rerun::env`], whatever the shell running
//! `cargo test` had (CI runs the suite once with `LEAKWATCH_GRACE=0`).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::process::Command;

/// How a child run ended.
#[derive(Debug)]
pub struct Run {
    /// Whether the child exited successfully (every test it ran passed).
    pub passed: bool,
    /// What it wrote to stdout.
    pub stdout: String,
    /// What it wrote to stderr.
    pub stderr: String,
    /// Everything it printed: stdout, then stderr.
    pub output: String,
}

impl Run {
    /// The names of the tests libtest says passed (`test NAME ... ok`).
    ///
    /// ```
    /// let run = tests_support::child::Run::from_output(true, "test a ... ok\ntest b ... FAILED\n", "");
    /// assert_eq!(run.passed_tests(), ["a"]);
    /// ```
    pub fn passed_tests(&self) -> Vec<&str> {
        self.output
            .lines()
            .filter_map(|line| line.strip_prefix("test ")?.strip_suffix(" ... ok"))
            .collect()
    }

    /// The names of the tests libtest says failed (`test NAME ... FAILED`).
    ///
    /// ```
    /// let run = tests_support::child::Run::from_output(false, "test a ... ok\ntest b ... FAILED\n", "");
    /// assert_eq!(run.failed_tests(), ["b"]);
    /// ```
    pub fn failed_tests(&self) -> Vec<&str> {
        self.output
            .lines()
            .filter_map(|line| line.strip_prefix("test ")?.strip_suffix(" ... FAILED"))
            .collect()
    }

    /// libtest's failure section of each failed test, by name: what it
    /// printed while captured, its panic message and so its report, from
    /// `---- NAME stdout ----` to the next section or the list of failures.
    ///
    /// ```
    /// let out = "failures:\n\n---- a stdout ----\nLEAK 1 file\n\nfailures:\n    a\n";
    /// let run = tests_support::child::Run::from_output(false, out, "");
    /// assert_eq!(run.sections()["a"], "LEAK 1 file\n\n");
    /// ```
    pub fn sections(&self) -> BTreeMap<String, String> {
        let mut sections = BTreeMap::new();
        let mut current: Option<(String, String)> = None;
        for line in self.output.lines() {
            let header = line
                .strip_prefix("---- ")
                .and_then(|rest| rest.strip_suffix(" stdout ----"));
            if (header.is_some() || line == "failures:")
                && let Some((name, text)) = current.take()
            {
                sections.insert(name, text);
            }
            if let Some(name) = header {
                current = Some((name.to_owned(), String::new()));
            } else if let Some((_, text)) = current.as_mut() {
                text.push_str(line);
                text.push('\n');
            }
        }
        if let Some((name, text)) = current {
            sections.insert(name, text);
        }
        sections
    }

    /// A run from what a child printed, for checking output that did not
    /// come from [`Rerun::run`].
    ///
    /// ```
    /// let run = tests_support::child::Run::from_output(true, "out\n", "err\n");
    /// assert_eq!(run.output, "out\nerr\n");
    /// ```
    pub fn from_output(passed: bool, stdout: &str, stderr: &str) -> Run {
        Run {
            passed,
            stdout: stdout.to_owned(),
            stderr: stderr.to_owned(),
            output: format!("{stdout}{stderr}"),
        }
    }
}

/// libtest's name of test `name` in module `module` (pass
/// `module_path!()`): its path inside the crate, without the crate's name.
///
/// ```
/// assert_eq!(tests_support::child::test_path("it::fs_file", "leaky"), "fs_file::leaky");
/// assert_eq!(tests_support::child::test_path("config_env", "leaky"), "leaky");
/// ```
pub fn test_path(module: &str, name: &str) -> String {
    match module.split_once("::") {
        Some((_crate, inner)) => format!("{inner}::{name}"),
        None => name.to_owned(),
    }
}

/// A run of this test binary in a child process, to be configured and
/// then started with [`Rerun::run`].
///
/// ```no_run
/// use tests_support::child::Rerun;
///
/// // Every ignored test whose name starts with `par_`, four at a time.
/// let run = Rerun::new()
///     .args(["--ignored", "par_", "--test-threads=4"])
///     .env("LEAKWATCH", "stacks")
///     .run();
/// assert_eq!(run.failed_tests(), ["par_leaky"]);
/// ```
#[derive(Debug)]
pub struct Rerun {
    args: Vec<String>,
    env: Vec<(String, String)>,
    shell: Option<String>,
    expected_tests: Option<usize>,
}

impl Default for Rerun {
    fn default() -> Self {
        Rerun::new()
    }
}

impl Rerun {
    /// This test binary with no arguments (so every test not ignored) and
    /// no `LEAKWATCH*` variable of this environment.
    ///
    /// ```no_run
    /// let run = tests_support::child::Rerun::new().arg("--list").run();
    /// assert!(run.passed);
    /// ```
    pub fn new() -> Rerun {
        Rerun {
            args: Vec::new(),
            env: Vec::new(),
            shell: None,
            expected_tests: None,
        }
    }

    /// The ignored test `name` of module `module` (pass `module_path!()`)
    /// alone, uncaptured (`--nocapture`, one thread), checked to be exactly
    /// one test of this binary.
    ///
    /// ```no_run
    /// #[test]
    /// #[ignore = "fails on purpose: run by the test below"]
    /// fn leaky() {}
    ///
    /// #[test]
    /// fn leaky_fails() {
    ///     let run = tests_support::child::Rerun::ignored(module_path!(), "leaky").run();
    ///     assert!(!run.passed, "{}", run.output);
    /// }
    /// ```
    pub fn ignored(module: &str, name: &str) -> Rerun {
        Rerun::new()
            .args([
                "--ignored",
                "--exact",
                &test_path(module, name),
                "--nocapture",
                "--test-threads=1",
            ])
            .expect_tests(1)
    }

    /// Adds one of libtest's arguments.
    ///
    /// ```no_run
    /// let run = tests_support::child::Rerun::new().arg("--list").run();
    /// # drop(run);
    /// ```
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Rerun {
        self.args.push(arg.as_ref().to_string_lossy().into_owned());
        self
    }

    /// Adds libtest arguments.
    ///
    /// ```no_run
    /// let run = tests_support::child::Rerun::new().args(["--ignored", "--exact", "leaky"]).run();
    /// # drop(run);
    /// ```
    pub fn args<I, S>(mut self, args: I) -> Rerun
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for arg in args {
            self = self.arg(arg);
        }
        self
    }

    /// Sets `key` to `value` in the child.
    ///
    /// ```no_run
    /// let run = tests_support::child::Rerun::ignored(module_path!(), "leaky")
    ///     .env("LEAKWATCH", "stacks")
    ///     .run();
    /// # drop(run);
    /// ```
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Rerun {
        self.env.push((
            key.as_ref().to_string_lossy().into_owned(),
            value.as_ref().to_string_lossy().into_owned(),
        ));
        self
    }

    /// Sets each `(key, value)` of `env` in the child.
    ///
    /// ```no_run
    /// let run = tests_support::child::Rerun::ignored(module_path!(), "leaky")
    ///     .envs(&[("LEAKWATCH", "stacks"), ("LEAKWATCH_GRACE", "1s")])
    ///     .run();
    /// # drop(run);
    /// ```
    pub fn envs<'a>(mut self, env: impl IntoIterator<Item = &'a (&'a str, &'a str)>) -> Rerun {
        for (key, value) in env {
            self = self.env(key, value);
        }
        self
    }

    /// Checks that the child ran `tests` tests (libtest's `running N
    /// tests`), so that a filter matching nothing fails the caller.
    ///
    /// ```no_run
    /// let run = tests_support::child::Rerun::new().args(["--ignored", "par_"]).expect_tests(4).run();
    /// # drop(run);
    /// ```
    pub fn expect_tests(mut self, tests: usize) -> Rerun {
        self.expected_tests = Some(tests);
        self
    }

    /// Runs the child through `sh -c`, after the shell command `prelude`
    /// (such as `ulimit -n 64`), for limits only a shell sets.
    ///
    /// ```no_run
    /// let run = tests_support::child::Rerun::ignored(module_path!(), "opens_until_out")
    ///     .after_shell("ulimit -n 64")
    ///     .run();
    /// # drop(run);
    /// ```
    pub fn after_shell(mut self, prelude: &str) -> Rerun {
        self.shell = Some(prelude.to_owned());
        self
    }

    /// Runs the child to its end and returns how it ended.
    ///
    /// # Panics
    ///
    /// If the child cannot be started, or it did not run the number of
    /// tests given to [`Rerun::expect_tests`]; the message shows the
    /// arguments and the child's output.
    ///
    /// ```no_run
    /// let run = tests_support::child::Rerun::ignored(module_path!(), "leaky").run();
    /// assert!(!run.passed, "{}", run.output);
    /// ```
    #[track_caller]
    pub fn run(self) -> Run {
        let exe = std::env::current_exe().expect("the test binary's path");
        let mut command = match &self.shell {
            Some(prelude) => {
                let mut command = Command::new("sh");
                command
                    .arg("-c")
                    .arg(format!("{prelude} && exec \"$0\" \"$@\""))
                    .arg(&exe);
                command
            }
            None => Command::new(&exe),
        };
        command.args(&self.args);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("LEAKWATCH") {
                command.env_remove(key);
            }
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        let out = command
            .output()
            .unwrap_or_else(|e| panic!("cannot run {} {:?}: {e}", exe.display(), self.args));
        let run = Run::from_output(
            out.status.success(),
            &String::from_utf8_lossy(&out.stdout),
            &String::from_utf8_lossy(&out.stderr),
        );
        if let Some(tests) = self.expected_tests {
            let plural = if tests == 1 { "" } else { "s" };
            assert!(
                run.output
                    .contains(&format!("\nrunning {tests} test{plural}\n")),
                "{:?} did not run {tests} test{plural} of this binary:\n{}",
                self.args,
                run.output
            );
        }
        run
    }
}

/// Runs the ignored test `name` of module `module` alone
/// ([`Rerun::ignored`]), with `RUST_BACKTRACE=1` and the variables `env`.
///
/// ```no_run
/// let run = tests_support::child::run(module_path!(), "leaky", &[("LEAKWATCH", "stacks")]);
/// assert!(!run.passed, "{}", run.output);
/// ```
#[track_caller]
pub fn run(module: &str, name: &str, env: &[(&str, &str)]) -> Run {
    Rerun::ignored(module, name)
        .env("RUST_BACKTRACE", "1")
        .envs(env)
        .run()
}

/// Runs the ignored test `name` (see [`run`]) and checks that it failed
/// with `expected` in its output, the failure located in `file` (pass
/// `file!()`), and no backtrace; returns the output.
///
/// ```no_run
/// let output = tests_support::child::fails_with(module_path!(), file!(), "leaky", "1 file still open");
/// # drop(output);
/// ```
#[track_caller]
pub fn fails_with(module: &str, file: &str, name: &str, expected: &str) -> String {
    let run = run(module, name, &[]);
    let output = run.output;
    assert!(!run.passed, "`{name}` passed:\n{output}");
    assert!(
        output.contains(expected),
        "`{name}`: expected `{expected}` in:\n{output}"
    );
    assert!(
        output.contains(&format!("panicked at {file}:")),
        "`{name}`: the failure is not located in {file}:\n{output}"
    );
    assert!(
        !output.contains("stack backtrace:"),
        "`{name}`: a backtrace follows the report:\n{output}"
    );
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[ignore = "run by the tests below in a child process"]
    fn child_prints_its_environment() {
        println!(
            "LEAKWATCH={:?} SET={:?}",
            std::env::var("LEAKWATCH").ok(),
            std::env::var("TESTS_SUPPORT_SET").ok()
        );
    }

    #[test]
    #[ignore = "run by the tests below in a child process"]
    fn child_fails() {
        panic!("failing on purpose");
    }

    #[test]
    #[ignore = "run by the tests below in a child process, with LEAKWATCH set"]
    fn relay() {
        assert_eq!(std::env::var("LEAKWATCH").as_deref(), Ok("stacks"));
        let run = Rerun::ignored(module_path!(), "child_prints_its_environment")
            .env("TESTS_SUPPORT_SET", "yes")
            .run();
        print!("{}", run.stdout);
    }

    #[test]
    fn the_child_sees_only_the_variables_it_is_given() {
        // The relay has `LEAKWATCH` set; its own child must not inherit it.
        let run = Rerun::ignored(module_path!(), "relay")
            .env("LEAKWATCH", "stacks")
            .run();
        assert!(run.passed, "{}", run.output);
        assert!(
            run.stdout.contains("LEAKWATCH=None SET=Some(\"yes\")"),
            "{}",
            run.output
        );
    }

    #[test]
    fn a_failing_child_is_reported_with_its_section() {
        let run = Rerun::new()
            .args(["--ignored", "--exact", "child::tests::child_fails"])
            .expect_tests(1)
            .run();
        assert!(!run.passed, "{}", run.output);
        assert_eq!(run.failed_tests(), ["child::tests::child_fails"]);
        assert!(
            run.sections()["child::tests::child_fails"].contains("failing on purpose"),
            "{}",
            run.output
        );
    }

    #[test]
    #[should_panic(expected = "did not run 1 test of this binary")]
    fn a_filter_that_matches_nothing_fails_the_parent() {
        Rerun::ignored(module_path!(), "no_such_test").run();
    }
}
