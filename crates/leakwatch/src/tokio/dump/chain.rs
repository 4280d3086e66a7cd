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
//! run's innermost function (what it waits on), the count and the crate;
//! std's and leakwatch's go (see [`FrameLine::collapse_chain`]).

use leakwatch_core::{Frame, FrameLine};

/// `trace` as one line per user's frame or run of a dependency's frames;
/// empty when the trace has no frames.
pub(crate) fn readable(trace: &str) -> String {
    let lines = FrameLine::collapse_chain(trace.lines().filter_map(parse));
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
             tokio::sync::mpsc::chan::Rx<T,S>::recv … 2 frames in tokio 1.x\n\
             → app::db::wait_for_row::{{closure}} at crates/leakwatch/src/db.rs:33:14"
        );
    }

    /// A reqwest call's connection task as tokio traces it: 26 frames, of
    /// which the reader needs their own two and which libraries hold the
    /// rest.
    #[test]
    fn a_long_chain_collapses_to_the_users_frames_and_one_line_per_library() {
        let root = env!("CARGO_MANIFEST_DIR");
        let reg = "/home/ada/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f";
        let mut trace = format!("╼ app::sync::run::{{{{closure}}}} at {root}/src/sync.rs:41:18\n");
        let mut depth = 1;
        let mut frame = |function: &str, file: String| {
            trace += &format!("{}└╼ {function} at {file}\n", " ".repeat(depth * 3));
            depth += 1;
        };
        frame(
            "app::sync::fetch_page::{{closure}}",
            format!("{root}/src/sync.rs:88:10"),
        );
        for (i, f) in [
            "Client::execute",
            "Pending::poll",
            "PendingRequest::poll",
            "ResponseFuture::poll",
        ]
        .iter()
        .enumerate()
        {
            frame(
                &format!("reqwest::async_impl::{f}"),
                format!(
                    "{reg}/reqwest-0.12.24/src/async_impl/client.rs:{}:9",
                    2400 + i
                ),
            );
        }
        for i in 0..6 {
            frame(
                "<futures_util::future::future::map::Map<Fut,F> as core::future::future::Future>::poll",
                format!(
                    "{reg}/futures-util-0.3.31/src/future/future/map.rs:{}:34",
                    55 + i
                ),
            );
        }
        frame(
            "<core::pin::Pin<P> as core::future::future::Future>::poll",
            "/rustc/abc/library/core/src/future/future.rs:133:9".into(),
        );
        for i in 0..3 {
            frame(
                "hyper_util::client::legacy::client::Client<C,B>::send_request::{{closure}}",
                format!(
                    "{reg}/hyper-util-0.1.21/src/client/legacy/client.rs:{}:13",
                    560 + i
                ),
            );
        }
        for i in 0..8 {
            frame(
                "hyper::proto::h1::dispatch::Dispatcher<D,Bs,I,T>::poll_catch",
                format!("{reg}/hyper-1.8.1/src/proto/h1/dispatch.rs:{}:9", 120 + i),
            );
        }
        frame(
            "app::body::Streamed::poll_frame",
            format!("{root}/src/body.rs:17:5"),
        );
        frame(
            "tokio::io::poll_evented::PollEvented<E>::poll_read",
            format!("{reg}/tokio-1.48.0/src/io/poll_evented.rs:170:33"),
        );
        frame(
            "tokio::runtime::io::registration::Registration::poll_ready",
            format!("{reg}/tokio-1.48.0/src/runtime/io/registration.rs:140:9"),
        );

        assert_eq!(trace.lines().count(), 27);
        assert_eq!(
            readable(&trace),
            "\
→ app::sync::run::{{closure}} at crates/leakwatch/src/sync.rs:41:18
→ app::sync::fetch_page::{{closure}} at crates/leakwatch/src/sync.rs:88:10
reqwest::async_impl::ResponseFuture::poll … 4 frames in reqwest 0.12.x
futures_util::future::future::map::Map<Fut,F> … 6 frames in futures-util 0.3.x
hyper_util::client::legacy::client::Client<C,B>::send_request … 3 frames in hyper-util 0.1.x
hyper::proto::h1::dispatch::Dispatcher<D,Bs,I,T>::poll_catch … 8 frames in hyper 1.x
→ app::body::Streamed::poll_frame at crates/leakwatch/src/body.rs:17:5
tokio::runtime::io::registration::Registration::poll_ready … 2 frames in tokio 1.x"
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
            "hyper::proto::h1::dispatch::poll … 1 frame in hyper"
        );
    }
}
