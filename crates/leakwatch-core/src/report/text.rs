//! The text form of a report, for people and for `grep '^LEAK'`.
//!
//! Every line of a report that fails a check starts with [`PREFIX`]: the
//! heading, each group's line, its details, the stack, the await chain and
//! the closing advice. So `grep '^LEAK'` of a CI log, where the report is
//! interleaved with other output, gives the whole report back.

use std::fmt;
use std::time::Duration;

use super::{Group, Report};

/// What every line of a failing report starts with.
pub(super) const PREFIX: &str = "LEAK";

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_clean() {
            writeln!(f, "leakwatch: no leaks in `{}`", self.scope_name)?;
            if let Some(ignored) = &self.ignored {
                writeln!(f, "leakwatch: {ignored}")?;
            }
            return Ok(());
        }
        if let Some(err) = &self.config_error {
            lines(f, " ", format_args!("leakwatch: error: {err}"))?;
        }
        if let Some(err) = &self.settings_error {
            lines(f, " ", format_args!("leakwatch: error: {err}"))?;
        }
        if self.groups.is_empty() {
            lines(
                f,
                " ",
                format_args!("leakwatch: no leaks in `{}`", self.scope_name),
            )?;
        } else {
            lines(
                f,
                " ",
                format_args!(
                    "leakwatch: {} leaked in `{}` ({})",
                    counted(self.total, "item"),
                    self.scope_name,
                    counted(self.groups.len(), "site"),
                ),
            )?;
        }
        let mut any_stack = false;
        for group in &self.groups {
            any_stack |= group.stack().is_some_and(|s| s.is_full());
            write_group(f, group)?;
        }
        if !self.groups.is_empty() && !any_stack && crate::COMPILED_IN {
            lines(
                f,
                " ",
                "leakwatch: run with LEAKWATCH=stacks for the full stack of each site",
            )?;
        }
        for hint in &self.hints {
            lines(f, " ", format_args!("leakwatch: {hint}"))?;
        }
        if let Some(ignored) = &self.ignored {
            lines(f, " ", format_args!("leakwatch: {ignored}"))?;
        }
        Ok(())
    }
}

fn write_group(f: &mut fmt::Formatter<'_>, group: &Group) -> fmt::Result {
    let site = group.site();
    let via = match group.via() {
        Some(call) => match call.callee() {
            Some(callee) => format!(" via {} ({callee})", call.location()),
            None => format!(" via {}", call.location()),
        },
        None => String::new(),
    };
    lines(
        f,
        "   ",
        format_args!(
            "{} {}, {} at {}{via} (oldest {}, thread {})",
            counted(group.count(), group.kind()),
            group.finding(),
            verb(group.kind()),
            site.shown(),
            Age(group.oldest()),
            group.threads().join(", "),
        ),
    )?;
    for detail in group.details() {
        lines(f, "     ", detail)?;
    }
    if group.more_details() > 0 {
        lines(
            f,
            "     ",
            format_args!("… and {} more", group.more_details()),
        )?;
    }
    if let Some(stack) = group.stack().filter(|s| s.is_full()) {
        lines(f, "     ", "stack:")?;
        for line in stack.lines() {
            lines(f, "       ", line)?;
        }
    }
    if let Some((id, trace)) = group.waiting() {
        lines(f, "     ", format_args!("id {id} is waiting at:"))?;
        lines(f, "       ", trace)?;
    } else if group.untraced() {
        lines(
            f,
            "     ",
            format_args!(
                "no await chain in tokio's task dump: tokio traces a task only where it waits on \
                 tokio's own leaf futures (channels, timers, I/O readiness, locks), and {} elsewhere",
                if group.ids().len() == 1 {
                    "this one waits"
                } else {
                    "these wait"
                }
            ),
        )?;
    }
    Ok(())
}

/// Writes each line of `text` after [`PREFIX`] and `indent`.
fn lines(f: &mut fmt::Formatter<'_>, indent: &str, text: impl fmt::Display) -> fmt::Result {
    let text = text.to_string();
    for line in text.lines() {
        writeln!(f, "{PREFIX}{indent}{line}")?;
    }
    if text.is_empty() {
        writeln!(f, "{PREFIX}")?;
    }
    Ok(())
}

/// `n` and `noun`, in the plural unless `n` is 1, as reports count: `1
/// task`, `2 tasks`, `2 boxes`, `2 binaries`, `2 children`.
///
/// ```
/// use leakwatch_core::counted;
///
/// assert_eq!(counted(1, "file"), "1 file");
/// assert_eq!(counted(3, "file"), "3 files");
/// assert_eq!(counted(2, "box"), "2 boxes");
/// assert_eq!(counted(2, "binary"), "2 binaries");
/// assert_eq!(counted(2, "child"), "2 children");
/// ```
pub fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        return format!("1 {noun}");
    }
    if noun == "child" {
        return format!("{n} children");
    }
    if let Some(stem) = noun.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        return format!("{n} {stem}ies");
    }
    let es = ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|end| noun.ends_with(end));
    format!("{n} {noun}{}", if es { "es" } else { "s" })
}

/// How items of `kind` came to be: tasks and threads are spawned.
fn verb(kind: &str) -> &'static str {
    match kind {
        "task" | "blocking-task" | "thread" => "spawned",
        _ => "opened",
    }
}

/// An age as a person reads it: `850ms`, `3.2s`, `4m07s`, `2h13m`.
pub(super) struct Age(pub(super) Duration);

impl fmt::Display for Age {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        let s = self.0.as_secs();
        if ms < 1000 {
            write!(f, "{ms}ms")
        } else if s < 60 {
            write!(f, "{:.1}s", self.0.as_secs_f64())
        } else if s < 3600 {
            write!(f, "{}m{:02}s", s / 60, s % 60)
        } else {
            write!(f, "{}h{:02}m", s / 3600, s % 3600 / 60)
        }
    }
}
