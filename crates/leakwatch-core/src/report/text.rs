//! The text form of a report, for people and for `grep '^LEAK'`.

use std::fmt;
use std::time::Duration;

use super::Report;

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(err) = &self.config_error {
            writeln!(f, "leakwatch: error: {err}")?;
        }
        if self.groups.is_empty() {
            return writeln!(f, "leakwatch: no leaks in `{}`", self.scope);
        }
        writeln!(
            f,
            "LEAK leakwatch: {} leaked in `{}` ({} {})",
            plural(self.total, "item", "items"),
            self.scope,
            self.groups.len(),
            if self.groups.len() == 1 {
                "site"
            } else {
                "sites"
            },
        )?;
        let mut any_stack = false;
        for group in &self.groups {
            writeln!(
                f,
                "LEAK   {} × {} {}, opened at {} (oldest {}, thread {})",
                group.count(),
                group.kind(),
                group.problem(),
                group.site(),
                Age(group.oldest()),
                group.threads().join(", "),
            )?;
            for detail in group.details() {
                writeln!(f, "         {detail}")?;
            }
            if group.more_details() > 0 {
                writeln!(f, "         … and {} more", group.more_details())?;
            }
            if let Some(stack) = group.stack() {
                any_stack = true;
                for frame in stack.frames() {
                    writeln!(f, "           at {frame}")?;
                }
            }
            if let Some((id, trace)) = group.waiting() {
                writeln!(f, "         id {id} is waiting at:")?;
                for line in trace.lines() {
                    writeln!(f, "           {line}")?;
                }
            }
        }
        if !any_stack && crate::COMPILED_IN {
            writeln!(
                f,
                "leakwatch: run with LEAKWATCH=stacks for the full stack of each site"
            )?;
        }
        for hint in &self.hints {
            writeln!(f, "leakwatch: {hint}")?;
        }
        Ok(())
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
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
