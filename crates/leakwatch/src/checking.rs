//! One check, from its scope's start to its verdict: the path that
//! `leakwatch::check`, `#[leakwatch::test]` and its async and hunting
//! forms all take.
//!
//! 1. [`Checking::begin`]: the scope, and a watch of it with what the check
//!    attributes ([`Detect`]);
//! 2. the body runs in [`Checking::scope`];
//! 3. the scope is checked ([`Checking::check_within`], or by the caller
//!    when it must drive a runtime while it waits) and a failing report
//!    gets its heap line ([`Checking::leaks`]);
//! 4. [`Checking::finish`]: a hunt's report first, the check's, then what
//!    could not be attributed. A passing check prints what the suite's
//!    file left out and that note, and gives `None`.

use std::time::Duration;

use leakwatch_core::{Report, Scope};

use crate::detect::Detect;
use crate::watch::{self, Watch};

/// Said once by a build whose checks cannot see anything.
const COMPILED_OUT: &str = "leakwatch: tracking is compiled out of this build (no debug \
                            assertions, no `production` feature): its checks pass without \
                            looking; run the tests without --release";

/// A check in progress.
#[derive(Debug)]
pub(crate) struct Checking {
    scope: Scope,
    watch: Watch,
}

impl Checking {
    /// Starts checking `scope` for the check or test `name`.
    pub(crate) fn begin(name: &'static str, scope: Scope, detect: Detect) -> Checking {
        if !leakwatch_core::COMPILED_IN {
            // A `cargo test --release` build: every check passes unseen.
            static SAID: std::sync::Once = std::sync::Once::new();
            // Past libtest's capture of `eprintln!`, which a passing test
            // never shows.
            SAID.call_once(|| {
                let _ = std::io::Write::write_all(
                    &mut std::io::stderr(),
                    format!("{COMPILED_OUT}\n").as_bytes(),
                );
            });
        }
        let watch = watch::begin(name, scope.id(), detect);
        Checking { scope, watch }
    }

    /// The scope the body runs in.
    pub(crate) fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Checks the scope, giving what is closing up to `grace`.
    pub(crate) fn check_within(&self, grace: Duration) -> Option<String> {
        self.leaks(self.scope.check_within(grace))
    }

    /// The failure message of a check that gave `result`, with the heap
    /// line; `None` when it passed (having printed what the suite's file
    /// left out).
    pub(crate) fn leaks(&self, result: Result<(), Report>) -> Option<String> {
        match result {
            Ok(()) => {
                crate::suite::print_ignored(&self.scope);
                None
            }
            Err(report) => Some(crate::heap::with_heap(report.to_string(), &self.scope)),
        }
    }

    /// The verdict: `hunted` (a hunt's report) and `leaks` (the check's),
    /// whichever there are, then the watch's note. Without either report
    /// the note is printed and the check passes (`None`).
    pub(crate) fn finish(self, hunted: Option<String>, leaks: Option<String>) -> Option<String> {
        let failure = match (hunted, leaks) {
            (Some(hunted), Some(leaks)) => Some(format!("{hunted}\n{leaks}")),
            (hunted, leaks) => hunted.or(leaks),
        };
        match (failure, self.watch.end()) {
            (Some(mut failure), Some(note)) => {
                if !failure.ends_with('\n') {
                    failure.push('\n');
                }
                failure.push_str(&note);
                Some(failure)
            }
            (None, Some(note)) => {
                eprintln!("{note}");
                None
            }
            (failure, None) => failure,
        }
    }
}
