//! The file's TOML, walked with spans so that every error has its line.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{CountedTasks, Settings, Switches};
use crate::config::{SettingsError, parse_grace};
use crate::ignore::Ignore;

const TOP: &str = "`grace`, `ignore`, `detect`";
const DETECT: &str = "`fds`, `threads`, `children`, `tasks`, `heap`, `counted-tasks`";

/// The text with the file's name, to turn spans into errors.
struct Source<'a> {
    text: &'a str,
    file: &'a str,
}

impl Source<'_> {
    fn line(&self, span: Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn error(&self, span: Range<usize>, key: &str, reason: impl Into<String>) -> SettingsError {
        SettingsError::new(self.file, Some(self.line(span)), Some(key), reason)
    }
}

fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

pub(super) fn parse(text: &str, file: &str) -> Result<Settings, SettingsError> {
    let source = Source { text, file };
    let table = DeTable::parse(text).map_err(|err| {
        let line = err.span().map(|span| source.line(span));
        SettingsError::new(
            file,
            line,
            None,
            format!("not valid TOML: {}", err.message().trim_end()),
        )
    })?;
    let mut settings = Settings {
        file: file.to_owned(),
        ..Settings::default()
    };
    for (key, value) in table.get_ref() {
        let span = key.span();
        match key.get_ref().as_ref() {
            "grace" => {
                let text = string(&source, "grace", value)?;
                let grace = parse_grace(text)
                    .map_err(|err| source.error(value.span(), "grace", err.to_string()))?;
                settings.grace = Some(grace);
            }
            "ignore" => settings.ignore = rules(&source, value)?,
            "detect" => settings.switches = switches(&source, value)?,
            other => {
                return Err(source.error(
                    span,
                    other,
                    format!("unknown key; expected one of {TOP}"),
                ));
            }
        }
    }
    Ok(settings)
}

fn string<'v>(
    source: &Source<'_>,
    key: &str,
    value: &'v Spanned<DeValue<'_>>,
) -> Result<&'v str, SettingsError> {
    match value.get_ref() {
        DeValue::String(text) => Ok(text.as_ref()),
        other => Err(source.error(
            value.span(),
            key,
            format!("expected a string, found {}", type_name(other)),
        )),
    }
}

fn boolean(
    source: &Source<'_>,
    key: &str,
    value: &Spanned<DeValue<'_>>,
) -> Result<bool, SettingsError> {
    match value.get_ref() {
        DeValue::Boolean(on) => Ok(*on),
        other => Err(source.error(
            value.span(),
            key,
            format!("expected true or false, found {}", type_name(other)),
        )),
    }
}

/// `ignore`: an array of strings, one rule each.
fn rules(source: &Source<'_>, value: &Spanned<DeValue<'_>>) -> Result<Vec<Ignore>, SettingsError> {
    let DeValue::Array(items) = value.get_ref() else {
        return Err(source.error(
            value.span(),
            "ignore",
            format!(
                "expected an array of rules such as [\"crate:bb8\"], found {}",
                type_name(value.get_ref())
            ),
        ));
    };
    let mut rules = Vec::with_capacity(items.len());
    for item in items {
        let text = string(source, "ignore", item)?;
        let parsed = Ignore::parse(text)
            .map_err(|err| source.error(item.span(), "ignore", err.to_string()))?;
        match <[Ignore; 1]>::try_from(parsed) {
            Ok([rule]) => rules.push(rule),
            Err(_) => {
                return Err(source.error(
                    item.span(),
                    "ignore",
                    format!("`{text}` is not one rule: write each rule as a string of its own"),
                ));
            }
        }
    }
    Ok(rules)
}

/// `[detect]`.
fn switches(source: &Source<'_>, value: &Spanned<DeValue<'_>>) -> Result<Switches, SettingsError> {
    let DeValue::Table(table) = value.get_ref() else {
        return Err(source.error(
            value.span(),
            "detect",
            format!("expected a table, found {}", type_name(value.get_ref())),
        ));
    };
    let mut switches = Switches::default();
    for (key, value) in table {
        let name = key.get_ref().as_ref();
        let dotted = format!("detect.{name}");
        let slot = match name {
            "fds" => &mut switches.fds,
            "threads" => &mut switches.threads,
            "children" => &mut switches.children,
            "tasks" => &mut switches.tasks,
            "heap" => &mut switches.heap,
            "counted-tasks" => {
                let text = string(source, &dotted, value)?;
                let counted = text.parse::<CountedTasks>().map_err(|()| {
                    source.error(
                        value.span(),
                        &dotted,
                        format!("`{text}` is not one of `fail`, `warn`, `off`"),
                    )
                })?;
                switches.counted_tasks = Some(counted);
                continue;
            }
            _ => {
                return Err(source.error(
                    key.span(),
                    &dotted,
                    format!("unknown key; expected one of {DETECT}"),
                ));
            }
        };
        *slot = Some(boolean(source, &dotted, value)?);
    }
    Ok(switches)
}
