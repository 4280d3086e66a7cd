//! Deciding which frames a reader needs.

use super::Frame;

/// Functions whose frames sit above the user's at capture time.
const OURS: &[&str] = &[
    "leakwatch_core::",
    "<leakwatch_core::",
    "leakwatch::",
    "<leakwatch::",
    "backtrace::",
    "<backtrace::",
];

/// Frames below which nothing is the user's: thread start, the test harness,
/// `main`'s shims. The frame itself goes too.
const RUNTIME_ROOTS: &[&str] = &[
    "std::sys::backtrace::__rust_begin_short_backtrace",
    "test::__rust_begin_short_backtrace",
    "tokio::runtime::task::",
    "tokio::runtime::blocking::pool::",
    "std::rt::lang_start",
    "std::thread::Builder::spawn_unchecked",
    "test::run_test",
    "__libc_start",
    "start_thread",
];

/// Cuts the runtime's frames from the bottom, then drops ours and the
/// closure-call shims wherever they are.
pub(super) fn user_frames(mut frames: Vec<Frame>) -> Vec<Frame> {
    if let Some(root) = frames
        .iter()
        .position(|f| RUNTIME_ROOTS.iter().any(|r| f.function.starts_with(r)))
    {
        frames.truncate(root);
    }
    frames.retain(|f| !is_ours(&f.function) && !is_glue(&f.function));
    frames
}

fn is_ours(function: &str) -> bool {
    OURS.iter().any(|p| function.starts_with(p))
}

fn is_glue(function: &str) -> bool {
    function.starts_with("core::ops::function::")
        || function.contains(" as core::ops::function::Fn")
        || function.starts_with("std::panicking::")
        || function.starts_with("std::panic::")
        || function.starts_with("<core::panic::unwind_safe::AssertUnwindSafe<F>")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(function: &str) -> Frame {
        Frame {
            function: function.into(),
            file: None,
            line: None,
        }
    }

    #[test]
    fn keeps_only_the_users_frames() {
        let frames = vec![
            frame("backtrace::backtrace::trace"),
            frame("leakwatch_core::stack::capture::capture"),
            frame("leakwatch_core::tag::Tag::new"),
            frame("leakwatch::fs::File::open"),
            frame("myapp::db::connect"),
            frame("core::ops::function::FnOnce::call_once"),
            frame("leakwatch_core::scope::Scope::run"),
            frame("myapp::main"),
            frame("<fn() as core::ops::function::FnOnce<()>>::call_once"),
            frame("core::ops::function::FnOnce::call_once"),
            frame("std::sys::backtrace::__rust_begin_short_backtrace"),
            frame("std::rt::lang_start::{{closure}}"),
            frame("main"),
        ];
        let names: Vec<_> = user_frames(frames)
            .into_iter()
            .map(|f| f.function)
            .collect();
        assert_eq!(names, ["myapp::db::connect", "myapp::main"]);
    }

    #[test]
    fn keeps_everything_when_nothing_matches() {
        let frames = vec![frame("a::b"), frame("c::d")];
        assert_eq!(user_frames(frames.clone()), frames);
    }
}
