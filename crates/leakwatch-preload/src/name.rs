//! A test's name, from what the preloaded process can see of it.
//!
//! libtest runs each test on a thread named after it, but Linux keeps 15
//! bytes of a thread's name. cargo-nextest runs one test per process and
//! names it on the command line (`--exact NAME`). Otherwise the full name
//! is the path of a function on the leaked items' stacks: the test's own
//! function (or a closure inside it, for what a thread it started opened),
//! without its crate; failing that, the one function of the test binary
//! whose path starts with the cut name.

/// The name cargo-nextest gave on the command line: the one argument that
/// is not a flag, beside `--exact`.
pub(crate) fn from_args(args: &[String]) -> Option<String> {
    if !args.iter().any(|a| a == "--exact") {
        return None;
    }
    let mut names = args.iter().skip(1).filter(|a| !a.starts_with('-'));
    let name = names.next()?;
    names.next().is_none().then(|| name.clone())
}

/// The test whose thread's name was cut to `short`, from the function
/// names on its items' stacks (each stack innermost first), else from
/// `functions` (those of the binary starting with `short`) when exactly one
/// starts so, else `short` followed by `…`.
pub(crate) fn from_frames<'a>(
    short: &str,
    stacks: impl IntoIterator<Item = Vec<&'a str>>,
    functions: impl FnOnce(&str) -> Vec<String>,
) -> String {
    // A name shorter than Linux's limit was not cut.
    let cut = short.len() >= 15;
    for stack in stacks {
        // The outermost match: the test's function, not a helper named
        // like it that it called.
        if let Some(path) = stack
            .iter()
            .rev()
            .filter_map(|function| test_path(function))
            .find(|path| *path == short || cut && path.starts_with(short))
        {
            return path.to_owned();
        }
    }
    if !cut {
        return short.to_owned();
    }
    match functions(short).as_slice() {
        [only] => only.clone(),
        _ => format!("{short}…"),
    }
}

/// `function` as a test's name: without its crate, generic arguments or
/// trailing `{{closure}}`s.
pub(crate) fn test_path(function: &str) -> Option<&str> {
    let mut path = function;
    while let Some(outer) = path.strip_suffix("::{{closure}}") {
        path = outer;
    }
    if path.contains('<') {
        return None;
    }
    path.split_once("::").map(|(_, rest)| rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nextest_names_the_test_on_the_command_line() {
        let args: Vec<String> = ["bin", "--exact", "tests::leaks_a_file", "--nocapture"]
            .map(String::from)
            .into();
        assert_eq!(from_args(&args).as_deref(), Some("tests::leaks_a_file"));
        let listing: Vec<String> = ["bin", "--list", "--format", "terse"]
            .map(String::from)
            .into();
        assert_eq!(from_args(&listing), None);
    }

    fn none(_: &str) -> Vec<String> {
        Vec::new()
    }

    #[test]
    fn a_cut_name_no_stack_completes_is_completed_from_the_one_function_so_named() {
        let stack = vec!["std::fs::File::open", "other::f"];
        let one = |_: &str| vec!["tests::leaks_a_socket".to_owned()];
        assert_eq!(
            from_frames("tests::leaks_a_", [stack.clone()], one),
            "tests::leaks_a_socket"
        );
        let two = |_: &str| {
            vec![
                "tests::leaks_a_file".to_owned(),
                "tests::leaks_a_pipe".to_owned(),
            ]
        };
        assert_eq!(
            from_frames("tests::leaks_a_", [stack], two),
            "tests::leaks_a_…"
        );
    }

    #[test]
    fn a_short_name_is_the_whole_name() {
        assert_eq!(from_frames("leaks_file", [], none), "leaks_file");
    }

    #[test]
    fn a_cut_name_is_completed_from_the_test_function() {
        let stack = vec![
            "std::fs::File::open",
            "scratch::tests::helpers::open_log",
            "scratch::tests::leaks_a_file_twice",
            "scratch::tests::leaks_a_file_twice::{{closure}}",
            "core::ops::function::FnOnce::call_once",
        ];
        assert_eq!(
            from_frames("tests::leaks_a_", [stack], none),
            "tests::leaks_a_file_twice"
        );
    }

    #[test]
    fn a_thread_the_test_started_names_it_by_its_closure() {
        let stack = vec![
            "std::net::tcp::TcpListener::bind",
            "scratch::tests::leaks_a_thread::{{closure}}",
            "std::sys::backtrace::__rust_begin_short_backtrace",
        ];
        assert_eq!(
            from_frames("tests::leaks_a_", [stack], none),
            "tests::leaks_a_thread"
        );
    }

    #[test]
    fn without_a_matching_frame_the_cut_name_says_so() {
        let stack = vec!["std::fs::File::open", "other::f"];
        assert_eq!(
            from_frames("tests::leaks_a_", [stack], none),
            "tests::leaks_a_…"
        );
    }
}
