//! Symbolizing addresses, each distinct one once per process.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use super::Frame;

/// Symbols of every address resolved so far. An address can stand for
/// several frames when functions were inlined into it.
static CACHE: Mutex<Option<HashMap<usize, Vec<Frame>>>> = Mutex::new(None);

/// All frames for `ips`, innermost first, inlined frames included.
pub(super) fn resolve(ips: &[usize]) -> Vec<Frame> {
    let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    let cache = cache.get_or_insert_with(HashMap::new);
    let mut frames = Vec::new();
    for &ip in ips {
        let symbols = cache.entry(ip).or_insert_with(|| lookup(ip));
        frames.extend(symbols.iter().cloned());
    }
    frames
}

#[cfg(all(test, any(debug_assertions, feature = "production")))]
pub(super) fn cached(ip: usize) -> bool {
    CACHE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .is_some_and(|c| c.contains_key(&ip))
}

fn lookup(ip: usize) -> Vec<Frame> {
    let mut out = Vec::new();
    // A return address points after the call; step back into it so the line
    // is the call's own.
    let addr = ip.saturating_sub(1) as *mut std::ffi::c_void;
    backtrace::resolve(addr, |symbol| {
        out.push(Frame {
            function: symbol
                .name()
                .map(|n| format!("{n:#}"))
                .unwrap_or_else(|| format!("{ip:#x}")),
            file: symbol.filename().map(|p| p.display().to_string()),
            line: symbol.lineno(),
            column: symbol.colno(),
        });
    });
    if out.is_empty() {
        out.push(Frame {
            function: format!("{ip:#x}"),
            file: None,
            line: None,
            column: None,
        });
    }
    out
}
