//! A task's await chain from tokio's trace text, as a person reads it.
//!
//! tokio prints a trace as a tree, one frame per line, outermost first:
//!
//! ```text
//! ╼ app::consume::{{closure}} at /src/app/src/main.rs:10:52
//! └╼ tokio::sync::mpsc::bounded::Receiver<T>::recv::{{closure}} at /cargo/.../bounded.rs:415:9
//!    └╼ ...
//! ```
//!
//! The user's frames stay, one per line and marked, with paths relative to
//! the workspace root; each run of one dependency's frames (hyper's,
//! futures-util's, tokio's own leaf futures) becomes one line naming the
//! crate and the count; std's and leakwatch's go (see
//! [`FrameLine::collapse`]).

use leakwatch_core::{Frame, FrameLine};

/// `trace` as one line per user's frame or run of a dependency's frames;
/// empty when the trace has no frames.
pub(crate) fn readable(trace: &str) -> String {
    let lines = FrameLine::collapse(trace.lines().filter_map(parse));
    let lines: Vec<String> = lines.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

/// One line of tokio's trace tree as a frame.
fn parse(line: &str) -> Option<Frame> {
    let frame = line.trim_start_matches(|c: char| c.is_whitespace() || "╼└├│─".contains(c));
    if frame.is_empty() {
        return None;
    }
    let Some((function, place)) = frame.rsplit_once(" at ") else {
        return Some(Frame {
            function: frame.to_owned(),
            file: None,
            line: None,
            column: None,
        });
    };
    let mut parts = place.rsplitn(3, ':');
    let (column, line, file) = (parts.next(), parts.next(), parts.next());
    let (file, line, column) = match (
        file,
        line.and_then(|l| l.parse().ok()),
        column.and_then(|c| c.parse().ok()),
    ) {
        (Some(file), Some(line), Some(column)) => (file, Some(line), Some(column)),
        _ => (place, None, None),
    };
    Some(Frame {
        function: function.to_owned(),
        file: Some(file.to_owned()),
        line,
        column,
    })
}

#[cfg(test)]
mod tests {
    use super::readable;

    #[test]
    fn keeps_the_users_frames_and_collapses_the_rest() {
        let root = env!("CARGO_MANIFEST_DIR");
        let trace = format!(
            "\
╼ readme_task::consumer::{{{{closure}}}} at {root}/tests/readme_task.rs:10:52
└╼ tokio::sync::mpsc::bounded::Receiver<T>::recv::{{{{closure}}}} at /h/.cargo/registry/src/i/tokio-1.48.0/src/sync/mpsc/bounded.rs:415:9
   └╼ tokio::sync::mpsc::chan::Rx<T,S>::recv at /h/.cargo/registry/src/i/tokio-1.48.0/src/sync/mpsc/chan.rs:290:9
      └╼ <leakwatch::tokio::task::Scoped<F> as core::future::future::Future>::poll at {root}/src/tokio/task.rs:80:9
         └╼ app::db::wait_for_row::{{{{closure}}}} at {root}/src/db.rs:33:14
"
        );
        assert_eq!(
            readable(&trace),
            "→ readme_task::consumer::{{closure}} at crates/leakwatch/tests/readme_task.rs:10:52\n\
             … 2 frames in tokio 1.x\n\
             → app::db::wait_for_row::{{closure}} at crates/leakwatch/src/db.rs:33:14"
        );
    }

    #[test]
    fn an_empty_trace_gives_nothing() {
        assert_eq!(readable(""), "");
        assert_eq!(readable("\n  \n"), "");
    }

    #[test]
    fn frames_without_a_place_are_named_by_their_crate() {
        assert_eq!(
            readable("╼ hyper::proto::h1::dispatch::poll\n"),
            "… 1 frame in hyper"
        );
    }
}
