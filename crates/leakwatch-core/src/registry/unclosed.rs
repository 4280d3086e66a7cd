//! Must-close items that were dropped without `close`.
//!
//! They are no longer open, so they leave the slab; their records wait here
//! until a check of their scope reports them. A finding of a scope that was
//! dropped moves to its parent; one made outside any scope is printed to
//! standard error at once, as Android's CloseGuard logs, since no check would
//! ever see it.

use std::sync::{Mutex, PoisonError};

use super::Record;
use crate::scope::ScopeId;

static FINDINGS: Mutex<Vec<Record>> = Mutex::new(Vec::new());

/// Keeps `record` for its scope's next check.
#[cold]
pub(crate) fn push(record: Record) {
    if record.scope == ScopeId::NONE {
        print_unseen(&record);
        return;
    }
    lock().push(record);
}

/// Says on standard error what no check will ever report.
fn print_unseen(record: &Record) {
    eprintln!(
        "LEAK leakwatch: {} dropped without close, opened at {}{}",
        record.kind,
        record.site,
        record.detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default(),
    );
}

/// Calls `f` with each finding whose scope `belongs` says is checked.
pub(crate) fn for_each(mut belongs: impl FnMut(ScopeId) -> bool, mut f: impl FnMut(&Record)) {
    for record in lock().iter().filter(|r| belongs(r.scope)) {
        f(record);
    }
}

/// Hands the findings of a dropped scope to its parent, or prints them when
/// it had none.
pub(crate) fn reparent(from: ScopeId, to: ScopeId) {
    let mut findings = lock();
    if to == ScopeId::NONE {
        findings.retain(|r| {
            let orphan = r.scope == from;
            if orphan {
                print_unseen(r);
            }
            !orphan
        });
    } else {
        for r in findings.iter_mut().filter(|r| r.scope == from) {
            r.scope = to;
        }
    }
}

fn lock() -> std::sync::MutexGuard<'static, Vec<Record>> {
    FINDINGS.lock().unwrap_or_else(PoisonError::into_inner)
}
