//! Must-close items that were dropped without `close`.
//!
//! They are no longer open, so they leave the slab; their records wait here
//! until a check of their scope reports them. A finding of a scope that was
//! dropped moves to its parent. One that no check will ever see (made outside
//! any scope, or left by a top-level scope that never reported it) is printed
//! to standard error, as Android's CloseGuard logs. Its place among the
//! records: the registry's docs, "# Where a record lives".

use std::sync::{Mutex, PoisonError};

use super::Record;
use crate::scope_id::ScopeId;

struct Unclosed {
    record: Record,
    /// A check has put it in a report.
    reported: bool,
}

static UNCLOSED: Mutex<Vec<Unclosed>> = Mutex::new(Vec::new());

/// Keeps `record` for its scope's next check.
#[cold]
pub(crate) fn push(record: Record) {
    if record.scope == ScopeId::NONE {
        print_unseen(&record);
        return;
    }
    lock().push(Unclosed {
        record,
        reported: false,
    });
}

/// Says on standard error what no check will ever report.
fn print_unseen(record: &Record) {
    eprintln!(
        "LEAK leakwatch: {} dropped without close, opened at {}{}",
        record.kind,
        record.site,
        record.detail().map(|d| format!(" ({d})")).unwrap_or_default(),
    );
}

/// Calls `f` with each finding whose scope `belongs` says is checked.
pub(crate) fn for_each(mut belongs: impl FnMut(ScopeId) -> bool, mut f: impl FnMut(&Record)) {
    for finding in lock().iter().filter(|f| belongs(f.record.scope)) {
        f(&finding.record);
    }
}

/// Marks the findings whose scope `belongs` says is checked as reported:
/// a check that failed with them has shown them.
pub(crate) fn mark_reported(mut belongs: impl FnMut(ScopeId) -> bool) {
    for finding in lock().iter_mut().filter(|f| belongs(f.record.scope)) {
        finding.reported = true;
    }
}

/// Whether any finding's scope is one `belongs` says is checked.
pub(crate) fn any(mut belongs: impl FnMut(ScopeId) -> bool) -> bool {
    lock().iter().any(|f| belongs(f.record.scope))
}

/// Hands the findings of a dropped scope to its parent. A top-level scope's
/// findings end here, printed if no check reported them.
pub(crate) fn reparent(from: ScopeId, to: ScopeId) {
    let mut findings = lock();
    if to == ScopeId::NONE {
        findings.retain(|f| {
            let ends = f.record.scope == from;
            if ends && !f.reported {
                print_unseen(&f.record);
            }
            !ends
        });
    } else {
        for f in findings.iter_mut().filter(|f| f.record.scope == from) {
            f.record.scope = to;
        }
    }
}

fn lock() -> std::sync::MutexGuard<'static, Vec<Unclosed>> {
    UNCLOSED.lock().unwrap_or_else(PoisonError::into_inner)
}
