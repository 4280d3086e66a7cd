//! `leakwatch`: what a service holds open, for the person on call.
//!
//! ```text
//! leakwatch top http://127.0.0.1:6060          # a live table of what grows
//! leakwatch diff before.json after.json        # or two URLs, a few seconds apart
//! leakwatch flame leaks.json -o leaks.svg      # live items by stack
//! ```
//!
//! Each reads a capture from a file or a URL: the JSON form
//! (`/debug/leaks/json`) or the pprof form (`/debug/leaks/pprof`). A URL
//! with no path reads `/debug/leaks/json`, one whose path ends in
//! `/debug/leaks` reads its `/json`, any other path is read as given, and
//! the query string is kept (`http://h:6060?kind=fd` reads
//! `http://h:6060/debug/leaks/json?kind=fd`). Only plain `http://`: there
//! is no TLS stack.

mod flame;
mod source;
mod top;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// Live resources of a service: tables, diffs and flame graphs.
///
/// Each reads a capture from a file or a plain `http://` URL (no TLS: read
/// a remote service through a port-forward). A URL with no path reads
/// `/debug/leaks/json`, one ending in `/debug/leaks` reads its `/json`, any
/// other path is read as given; its query string is kept.
#[derive(Debug, Parser)]
#[command(name = "leakwatch", version, about, long_about, after_help = EXAMPLES)]
struct Cli {
    /// How long to wait for a server's answer.
    #[arg(long, global = true, default_value = "5s", value_parser = parse_duration)]
    timeout: Duration,
    #[command(subcommand)]
    command: Command,
}

const EXAMPLES: &str = "\
Examples:
  leakwatch top http://127.0.0.1:6060
  leakwatch diff --wait 30s http://127.0.0.1:6060 http://127.0.0.1:6060
  leakwatch flame http://127.0.0.1:6060 -o leaks.svg

Run `leakwatch help COMMAND` for each command's options and examples.";

const TOP_EXAMPLES: &str = "\
Examples:
  leakwatch top http://127.0.0.1:6060                  # refreshed every 2s
  leakwatch top --once --kind fd,thread http://127.0.0.1:6060
  leakwatch top --site src/pool.rs 'http://127.0.0.1:6060?min_age=30'
  leakwatch top --once leaks.json                      # a capture saved before";

const DIFF_EXAMPLES: &str = "\
Examples:
  leakwatch diff before.json http://127.0.0.1:6060
  leakwatch diff --wait 1m --kind db-conn http://127.0.0.1:6060 http://127.0.0.1:6060
  leakwatch diff before.json after.pb.gz --fail-on-growth        # CI: 1 on any growth
  leakwatch diff --fail-on-growth 5 before.json http://127.0.0.1:6060

Exit status: 0 when the diff was printed (without --fail-on-growth, whatever it \
shows; with it, when no site's live items grew by more than N), 1 when one did \
with --fail-on-growth given, 2 when a capture could not be read or the \
arguments are wrong. Growth is counted site by site. Written before A and B \
without N, --fail-on-growth would read A as its N: put it after them, or write \
--fail-on-growth=0.";

const FLAME_EXAMPLES: &str = "\
Examples:
  leakwatch flame http://127.0.0.1:6060 -o leaks.svg
  leakwatch flame 'http://127.0.0.1:6060?kind=db-conn' -o db.svg
  leakwatch flame leaks.json                          # writes leaks.svg";

#[derive(Debug, Subcommand)]
enum Command {
    /// A live table of open items by kind and site, largest growth first;
    /// `q`, Esc or Ctrl-C quits.
    #[command(after_help = TOP_EXAMPLES)]
    Top {
        /// The service's URL (`http://host:port`) or a capture's.
        url: String,
        /// Time between refreshes.
        #[arg(long, short = 'n', default_value = "2s", value_parser = parse_duration)]
        interval: Duration,
        /// Print one table and exit (also what happens when stdout is not
        /// a terminal).
        #[arg(long)]
        once: bool,
        #[command(flatten)]
        only: source::Only,
    },
    /// What appeared, went away and grew from A to B, by kind and site.
    ///
    /// A report: it exits 0 whatever changed, unless `--fail-on-growth` is
    /// given.
    #[command(after_help = DIFF_EXAMPLES)]
    Diff {
        /// The earlier capture: a file or a URL.
        a: String,
        /// The later capture: a file or a URL (the same URL as A reads it
        /// again).
        b: String,
        /// How long to wait between reading A and B.
        #[arg(long, default_value = "0s", value_parser = parse_duration)]
        wait: Duration,
        /// Exit with status 1 when a site's live items grew by more than N
        /// (0 when the flag is given without N: any growth).
        #[arg(
            long,
            value_name = "N",
            num_args = 0..=1,
            default_missing_value = "0"
        )]
        fail_on_growth: Option<usize>,
        #[command(flatten)]
        only: source::Only,
    },
    /// A flame graph (SVG) of the live items of a capture, by stack.
    #[command(after_help = FLAME_EXAMPLES)]
    Flame {
        /// The capture: a file or a URL.
        snapshot: String,
        /// Where to write the SVG.
        #[arg(long, short = 'o', default_value = "leaks.svg")]
        output: PathBuf,
    },
}

/// A duration as every leakwatch setting takes one (`250ms`, `5s`, `2m`,
/// `1h`: `leakwatch_core::parse_grace`), or a bare number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let bare = !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '.');
    let with_unit = if bare { format!("{s}s") } else { s.to_owned() };
    leakwatch_core::parse_grace(&with_unit)
        .map_err(|_| format!("`{s}` is not a duration like 500ms, 5s, 2m or 1h"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `diff` keeps 1 for "something grew", so its errors are 2, as with
    // diff(1); the other commands fail with 1.
    let (result, on_error) = match cli.command {
        Command::Top {
            url,
            interval,
            once,
            only,
        } => (
            top::run(&url, interval, once, &only, cli.timeout).map(|()| ExitCode::SUCCESS),
            1,
        ),
        Command::Diff {
            a,
            b,
            wait,
            fail_on_growth,
            only,
        } => (diff(&a, &b, wait, fail_on_growth, &only, cli.timeout), 2),
        Command::Flame { snapshot, output } => (
            flame::run(&snapshot, &output, cli.timeout).map(|()| ExitCode::SUCCESS),
            1,
        ),
    };
    result.unwrap_or_else(|e| {
        eprintln!("leakwatch: error: {e}");
        ExitCode::from(on_error)
    })
}

/// Prints the diff; 1 only when `fail_on_growth` is given and a site's
/// live items grew by more than it.
fn diff(
    a: &str,
    b: &str,
    wait: Duration,
    fail_on_growth: Option<usize>,
    only: &source::Only,
    timeout: Duration,
) -> Result<ExitCode, String> {
    let before = only.apply(&source::read(a, timeout)?);
    std::thread::sleep(wait);
    let after = only.apply(&source::read(b, timeout)?);
    let diff = leakwatch_export::Diff::between(&before, &after);
    print!("{diff}");
    let grew = fail_on_growth.is_some_and(|n| diff.grew().any(|c| c.after() - c.before() > n));
    Ok(if grew {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_read_with_units_or_as_seconds() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("soon").unwrap_err().contains("`soon`"));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("5d").is_err());
    }
}
