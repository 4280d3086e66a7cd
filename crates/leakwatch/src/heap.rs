//! The heap's part in a test's verdict: a hunt by repetition
//! (`#[leakwatch::test(hunt = "3:5")]`), and the line of heap still live
//! that ends a failing report.

use leakwatch_core::Scope;

use crate::detect::Detect;
use crate::interposed;

/// Runs `round` as a leak hunt in `scope` (the test's): `warmup` rounds,
/// then `measured` rounds, each measured as `leakwatch_interpose::hunt`
/// measures them. The last round's value, and the failure report when the
/// hunt found a leak; a clean hunt's summary is printed to the test's
/// output. A round whose value is `failed` (an `Err` the test returned)
/// ends the hunt, unjudged: the test fails with that error.
pub(crate) fn hunt<R>(
    name: &str,
    scope: &Scope,
    detect: Detect,
    warmup: usize,
    measured: usize,
    mut round: impl FnMut() -> R,
    failed: impl Fn(&R) -> bool,
) -> (R, Option<String>) {
    let mut last = None;
    let mut stopped = false;
    let (report, leaked) = interposed::hunt_in(scope, detect, warmup, measured, &mut || {
        if !stopped {
            let out = round();
            stopped = failed(&out);
            last = Some(out);
        }
    });
    // At least the 2 measured rounds ran: the attribute requires them.
    let out = last.expect("leakwatch: a hunt runs at least 2 rounds");
    if stopped {
        return (out, None);
    }
    if !leaked {
        eprintln!("leakwatch: `{name}`: {report}");
        return (out, None);
    }
    let mut text = format!(
        "LEAK leakwatch: `{name}` leaks by repetition (hunt = \"{warmup}:{measured}\"): a count \
         grew in every measured round, or descriptors changed"
    );
    for line in report.lines() {
        text.push_str("\nLEAK ");
        text.push_str(line);
    }
    (out, Some(text))
}

/// `report` (a failing check's) with one line of information after it:
/// the heap still live that was allocated in `scope`, when the counting
/// allocator is installed and there is some. Heap alive at the end of a
/// test is not by itself a leak (a cache, a value kept on purpose), so the
/// line says so; only a hunt judges heap.
pub(crate) fn with_heap(mut report: String, scope: &Scope) -> String {
    if !crate::suite::suite().heap {
        return report;
    }
    if let Some((blocks, bytes)) = interposed::heap_in(scope.id()).filter(|&(blocks, _)| blocks > 0)
    {
        let (noun, verb) = if blocks == 1 {
            ("heap block", "is")
        } else {
            ("heap blocks", "are")
        };
        report.push_str(&format!(
            "\nLEAK leakwatch: info: {blocks} {noun} ({bytes} bytes) allocated in this scope {verb} \
             still live; heap alive at the end is not by itself a leak (a cache, a value kept on \
             purpose): #[leakwatch::test(hunt = \"3:5\")] judges heap by repetition"
        ));
    }
    report
}
