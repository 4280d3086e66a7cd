//! What the suite's settings file (`leakwatch_core::Settings`) says to the
//! facade's checks beyond what core applies itself (the ignore rules and
//! the grace, in every `Scope`): whether tasks are checked, what tasks
//! that can only be counted do to a test, whether a failing report has its
//! heap line, and the `fn:` rules matched against a leaked task's await
//! chain once a task dump has it.

use leakwatch_core::{CountedTasks, Ignore, Report, Settings};

/// The switches of the file, with their defaults where it says nothing
/// (or where it is bad: its error fails every check).
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
pub(crate) struct Suite {
    /// `detect.tasks`: tokio tasks are checked, tracked or counted.
    pub(crate) tasks: bool,
    /// `detect.heap`: a failing report ends with its heap line.
    pub(crate) heap: bool,
    /// `detect.counted-tasks`.
    pub(crate) counted_tasks: CountedTasks,
    /// How the file is named, when there is one.
    pub(crate) file: Option<&'static str>,
}

/// The suite's switches (the file is read once per process, in core).
pub(crate) fn suite() -> Suite {
    let settings = Settings::suite().ok().flatten();
    let switches = settings.map(Settings::switches).unwrap_or_default();
    Suite {
        tasks: switches.tasks.unwrap_or(true),
        heap: switches.heap.unwrap_or(true),
        counted_tasks: switches.counted_tasks.unwrap_or(CountedTasks::Fail),
        file: settings.map(Settings::file),
    }
}

/// The rules that leave tasks out of a check where `detect.tasks = false`.
pub(crate) fn task_rules(suite: Suite) -> Vec<Ignore> {
    if suite.tasks {
        return Vec::new();
    }
    #[cfg(feature = "tokio")]
    {
        vec![
            Ignore::Kind(crate::tokio::KIND.to_owned()),
            Ignore::Kind(crate::tokio::BLOCKING_KIND.to_owned()),
        ]
    }
    #[cfg(not(feature = "tokio"))]
    Vec::new()
}

/// `report` without the groups of leaked tasks whose await chain (from a
/// task dump) passes through a function a `fn:` rule of the file names;
/// the rule and count are added to the report's trace.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
pub(crate) fn without_waiting_in_ignored_fns(report: Report) -> Report {
    let Ok(Some(settings)) = Settings::suite() else {
        return report;
    };
    let paths: Vec<&str> = settings
        .ignore()
        .iter()
        .filter_map(|rule| match rule {
            Ignore::Fn(path) => Some(path.as_str()),
            _ => None,
        })
        .collect();
    if paths.is_empty() {
        return report;
    }
    report.without_groups(
        |group| {
            let (_, chain) = group.waiting()?;
            let functions: Vec<&str> = chain
                .split_whitespace()
                .filter(|word| word.contains("::"))
                .collect();
            let path = paths.iter().find(|path| {
                functions
                    .iter()
                    .any(|function| Ignore::names_function(path, function))
            })?;
            Some(format!("fn:{path}"))
        },
        settings.file(),
    )
}

/// The line a passing check prints when the file's rules left findings
/// out of it, so that nothing is silenced without a trace.
pub(crate) fn print_ignored(scope: &leakwatch_core::Scope) {
    if let Some(ignored) = scope.ignored() {
        eprintln!("leakwatch: {ignored}");
    }
}
