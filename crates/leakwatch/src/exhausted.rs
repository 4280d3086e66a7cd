//! Out of descriptors: when a tracked open fails with `EMFILE` or `ENFILE`,
//! the live items are the likely culprits, so their table (the top sites by
//! count) is printed once, as Jenkins' file-leak-detector does.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use leakwatch_core::Snapshot;

/// Sites the table shows at most.
const TOP: usize = 10;

/// Passes `err` on; if it says the process or the system is out of
/// descriptors, first prints the live items by site, once per process.
#[cold]
pub(crate) fn note(err: io::Error) -> io::Error {
    static PRINTED: AtomicBool = AtomicBool::new(false);
    if is_exhaustion(&err) && !PRINTED.swap(true, Ordering::Relaxed) {
        eprintln!("{}", table(&err, &Snapshot::all()));
    }
    err
}

/// Whether `err` is `EMFILE` (this process's limit) or `ENFILE` (the
/// system's).
fn is_exhaustion(err: &io::Error) -> bool {
    #[cfg(unix)]
    {
        // From `errno.h`, the same on every Unix leakwatch builds for.
        const EMFILE: i32 = 24;
        const ENFILE: i32 = 23;
        matches!(err.raw_os_error(), Some(EMFILE | ENFILE))
    }
    #[cfg(not(unix))]
    {
        let _ = err;
        false
    }
}

/// The live items of `snapshot` by kind and site, most first.
fn table(err: &io::Error, snapshot: &Snapshot) -> String {
    let mut by_site: HashMap<(&str, String), usize> = HashMap::new();
    for item in snapshot.items() {
        *by_site
            .entry((item.kind(), item.site().to_string()))
            .or_default() += 1;
    }
    let mut rows: Vec<_> = by_site.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut text = format!(
        "LEAK leakwatch: an open failed ({err}); {} tracked items are open, the most by site:",
        snapshot.len()
    );
    for ((kind, site), count) in rows.iter().take(TOP) {
        text.push_str(&format!("\nLEAK   {count} {kind} open, opened at {site}"));
    }
    if rows.len() > TOP {
        text.push_str(&format!("\nLEAK   ... and {} more sites", rows.len() - TOP));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_descriptor_exhaustion_is_noted() {
        assert!(is_exhaustion(&io::Error::from_raw_os_error(24)) == cfg!(unix));
        assert!(is_exhaustion(&io::Error::from_raw_os_error(23)) == cfg!(unix));
        assert!(!is_exhaustion(&io::Error::from_raw_os_error(2)));
        assert!(!is_exhaustion(&io::Error::other("no")));
    }

    #[test]
    fn the_table_counts_items_by_site_most_first() {
        let scope = leakwatch_core::Scope::new("table");
        let open = || leakwatch_core::Tag::new("file");
        let line = line!() - 1;
        let many: Vec<_> = scope.run(|| (0..3).map(|_| open()).collect());
        let one = scope.run(|| leakwatch_core::Tag::new("tcp"));
        let text = table(&io::Error::from_raw_os_error(24), &scope.snapshot());
        if !leakwatch_core::COMPILED_IN {
            return;
        }
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("LEAK leakwatch: an open failed ("),
            "{text}"
        );
        assert!(lines[0].contains("4 tracked items are open"), "{text}");
        assert!(
            lines[1].starts_with(&format!(
                "LEAK   3 file open, opened at {}:{line}:",
                file!()
            )),
            "{text}"
        );
        assert!(lines[2].starts_with("LEAK   1 tcp open"), "{text}");
        drop((many, one));
    }
}
