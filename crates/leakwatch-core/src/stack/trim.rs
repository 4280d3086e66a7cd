//! Deciding which frames a reader needs.

use super::Frame;
use super::own::is_own_frame;

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

/// Skips the frames above the opener's (leakwatch's own, see
/// [`super::own`], and the runtime's spawn path when a runtime hook saw a
/// task spawned), cuts the runtime's frames from the bottom, then drops
/// leakwatch's own and the closure-call shims wherever they are.
pub(super) fn user_frames(mut frames: Vec<Frame>) -> Vec<Frame> {
    let start = frames
        .iter()
        .position(|f| {
            !is_own_frame(&f.function) && !is_glue(&f.function) && !is_spawn_path(&f.function)
        })
        .unwrap_or(frames.len());
    // A stack captured where a thread is created (an interposed
    // `pthread_create`) starts in std's spawn path, a runtime root of the
    // threads it starts: roots are looked for below the language's frames.
    let below = start
        + frames[start..]
            .iter()
            .position(|f| !is_language(&f.function))
            .unwrap_or(frames.len() - start);
    if let Some(root) = frames[below..]
        .iter()
        .position(|f| RUNTIME_ROOTS.iter().any(|r| f.function.starts_with(r)))
    {
        frames.truncate(below + root);
    }
    frames.drain(..start);
    frames.retain(|f| !is_own_frame(&f.function) && !is_glue(&f.function));
    frames
}

/// std's, core's and alloc's frames.
fn is_language(function: &str) -> bool {
    let function = function.trim_start_matches('<');
    ["std::", "core::", "alloc::"]
        .iter()
        .any(|p| function.starts_with(p))
}

/// tokio's frames between a spawn and its hook.
fn is_spawn_path(function: &str) -> bool {
    function.starts_with("tokio::") || function.starts_with("<tokio::")
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

    /// The functions of the frames `user_frames` keeps of `functions`,
    /// with the wrappers that link core (whose frames these tests use)
    /// registered as leakwatch's own, as they register themselves.
    fn kept(functions: &[&str]) -> Vec<String> {
        assert!(crate::stack::register_own_frames(&[
            "leakwatch::",
            "leakwatch_interpose::"
        ]));
        user_frames(functions.iter().map(|f| frame(f)).collect())
            .into_iter()
            .map(|f| f.function)
            .collect()
    }

    fn frame(function: &str) -> Frame {
        Frame {
            function: function.into(),
            file: None,
            line: None,
            column: None,
        }
    }

    #[test]
    fn keeps_only_the_users_frames() {
        assert_eq!(
            kept(&[
                "backtrace::backtrace::trace",
                "leakwatch_core::stack::capture::capture",
                "leakwatch_core::tag::Tag::new",
                "leakwatch::fs::File::open",
                "myapp::db::connect",
                "core::ops::function::FnOnce::call_once",
                "leakwatch_core::scope::Scope::run",
                "myapp::main",
                "<fn() as core::ops::function::FnOnce<()>>::call_once",
                "core::ops::function::FnOnce::call_once",
                "std::sys::backtrace::__rust_begin_short_backtrace",
                "std::rt::lang_start::{{closure}}",
                "main",
            ]),
            ["myapp::db::connect", "myapp::main"]
        );
    }

    #[test]
    fn a_stack_taken_where_a_thread_is_created_keeps_the_spawning_line() {
        assert_eq!(
            kept(&[
                "leakwatch_interpose::active::capture",
                "std::sys::pal::unix::thread::Thread::new",
                "std::thread::Builder::spawn_unchecked_",
                "std::thread::spawn",
                "app::tests::starts_a_worker",
                "core::ops::function::FnOnce::call_once",
                "test::__rust_begin_short_backtrace",
                "test::run_test",
            ]),
            [
                "std::sys::pal::unix::thread::Thread::new",
                "std::thread::Builder::spawn_unchecked_",
                "std::thread::spawn",
                "app::tests::starts_a_worker"
            ]
        );
    }

    #[test]
    fn skips_the_spawn_path_above_a_hooked_task_before_looking_for_roots() {
        assert_eq!(
            kept(&[
                "leakwatch::tokio::hooks::spawned",
                "tokio::runtime::task_hooks::TaskHooks::spawn",
                "tokio::runtime::task::list::OwnedTasks<S>::bind",
                "tokio::task::spawn::spawn",
                "hyper_util::rt::tokio::TokioExecutor::execute",
                "app::fetch::{{closure}}",
                "tokio::runtime::task::raw::poll",
                "app::never_shown",
            ]),
            [
                "hyper_util::rt::tokio::TokioExecutor::execute",
                "app::fetch::{{closure}}"
            ]
        );
    }

    #[test]
    fn keeps_everything_when_nothing_matches() {
        let frames = vec![frame("a::b"), frame("c::d")];
        assert_eq!(user_frames(frames.clone()), frames);
    }
}
