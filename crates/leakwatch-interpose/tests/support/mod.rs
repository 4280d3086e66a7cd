//! Helpers shared by this crate's test binaries.

/// The function names of `stack`'s return addresses, innermost first.
pub fn names(stack: &[usize]) -> Vec<String> {
    let mut names = Vec::new();
    for &ip in stack {
        backtrace::resolve(ip as *mut std::ffi::c_void, |symbol| {
            if let Some(name) = symbol.name() {
                names.push(format!("{name:#}"));
            }
        });
    }
    names
}
