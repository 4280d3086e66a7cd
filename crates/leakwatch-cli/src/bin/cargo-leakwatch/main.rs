//! `cargo leakwatch test`: checks every test of a suite for the
//! descriptors, threads and child processes it left open, with no change
//! to the suite: the crate need not depend on leakwatch.
//!
//! ```text
//! cargo install leakwatch-cli
//! cargo leakwatch test                        # cargo nextest run, else cargo test
//! cargo leakwatch test --suppressions known.txt --json leaks.json --html leaks.html -- -p mycrate
//! ```
//!
//! It builds `leakwatch-preload` as a shared library and runs the suite
//! with it preloaded (`LD_PRELOAD`, glibc Linux): with cargo-nextest
//! installed, `cargo nextest run` (one process per test); otherwise `cargo
//! test`, where a test is the thread libtest runs it on and every thread
//! it starts. Each test is checked when it ends, after the grace; each
//! leaking test's report is printed, then a summary grouped by site. The
//! exit status is the test command's when it failed, else 1 when anything
//! leaked, else 0.

mod html;
mod preload;
mod run;
mod run_log;
mod runner;
mod summary;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Cargo's name for the subcommand, as `cargo leakwatch` runs it.
#[derive(Debug, Parser)]
#[command(name = "cargo", bin_name = "cargo")]
enum Cargo {
    /// leakwatch's cargo commands.
    #[command(subcommand, version, about)]
    Leakwatch(Command),
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the suite with every test checked for what it left open.
    Test(TestArgs),
    /// The target runner `test` sets: starts one test binary with the
    /// library preloaded.
    #[command(hide = true, name = "__preloaded")]
    Preloaded {
        /// The test binary.
        binary: std::ffi::OsString,
        /// Its arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
}

/// `cargo leakwatch test`'s own options; everything after them goes to
/// the test command.
#[derive(Debug, clap::Args)]
struct TestArgs {
    /// Known leaks, one ignore rule per line (`kind:thread`,
    /// `site:tests/common/mod.rs:40`, `fn:my_crate::pool::start`,
    /// `crate:bb8`, `name:reaper`, `detail:/var/log`), `#` comments.
    /// Each rule's uses are counted; an unused one is reported.
    #[arg(long, value_name = "FILE")]
    suppressions: Option<PathBuf>,
    /// Also write the summary as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Also write the summary as an HTML page with a flame graph of leak
    /// sites to FILE.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Which test runner: cargo-nextest when installed (`auto`), or one.
    #[arg(long, value_enum, default_value_t = Runner::Auto)]
    runner: Runner,
    /// The arguments of `cargo nextest run` or `cargo test` (`-p mycrate`,
    /// `--features x`, a filter, `-- --test-threads 4`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// The test command to run under the preload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Runner {
    /// `cargo nextest run` if cargo-nextest is installed, else `cargo test`.
    Auto,
    /// `cargo nextest run`: one process per test.
    Nextest,
    /// `cargo test`: a thread per test.
    Cargo,
}

fn main() -> ExitCode {
    let Cargo::Leakwatch(command) = Cargo::parse();
    let result = match command {
        Command::Test(args) => run::test(args),
        Command::Preloaded { binary, args } => Err(runner::exec(&binary, &args)),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("cargo-leakwatch: error: {err}");
            ExitCode::from(2)
        }
    }
}
