//! A task's await chain from tokio's trace text, cut down to the user's
//! frames.
//!
//! tokio prints a trace as a tree, one frame per line:
//!
//! ```text
//! ╼ app::consume::{{closure}} at /src/app/src/main.rs:10:52
//! └╼ tokio::sync::mpsc::bounded::Receiver<T>::recv::{{closure}} at /cargo/.../bounded.rs:415:9
//!    └╼ ...
//! ```
//!
//! The frames of tokio, std and leakwatch say nothing the user can act on,
//! so they go; the user's stay, in order, with paths made relative to the
//! working directory.

/// Crates whose frames are left out of a chain.
const NOT_USERS: &[&str] = &[
    "tokio::",
    "core::",
    "std::",
    "alloc::",
    "leakwatch::",
    "leakwatch_core::",
    "pin_project_lite::",
];

/// The user's frames of `trace`, one per line, paths relative to `here`
/// (which ends in `/`). Empty when the trace has none.
pub(crate) fn users_frames(trace: &str, here: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for line in trace.lines() {
        let frame = line.trim_start_matches(|c: char| c.is_whitespace() || "╼└├│─".contains(c));
        if frame.is_empty() {
            continue;
        }
        let symbol = frame.split(" at ").next().unwrap_or(frame);
        let symbol = symbol.trim_start_matches('<');
        if NOT_USERS.iter().any(|krate| symbol.starts_with(krate)) {
            continue;
        }
        let frame = frame.replacen(&format!(" at {here}"), " at ", 1);
        if out.last() != Some(&frame) {
            out.push(frame);
        }
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::users_frames;

    #[test]
    fn keeps_the_users_frames_with_relative_paths() {
        let trace = "\
╼ readme_task::consumer::{{closure}} at /work/app/tests/readme_task.rs:10:52
└╼ tokio::sync::mpsc::bounded::Receiver<T>::recv::{{closure}} at /cargo/tokio/src/sync/mpsc/bounded.rs:415:9
   └╼ <leakwatch::tokio::task::Scoped<F> as core::future::future::Future>::poll at /work/app/src/tokio/task.rs:80:9
      └╼ app::db::wait_for_row::{{closure}} at /work/app/src/db.rs:33:14
";
        assert_eq!(
            users_frames(trace, "/work/app/"),
            "readme_task::consumer::{{closure}} at tests/readme_task.rs:10:52\n\
             app::db::wait_for_row::{{closure}} at src/db.rs:33:14"
        );
    }

    #[test]
    fn a_trace_of_only_library_frames_gives_nothing() {
        let trace = "╼ tokio::time::sleep::Sleep::poll at /cargo/tokio/src/time/sleep.rs:1:1\n";
        assert_eq!(users_frames(trace, "/x/"), "");
        assert_eq!(users_frames("", "/x/"), "");
    }
}
