//! The summary as one HTML page: the tables, and a flame graph of leak
//! sites (inferno), each leaked item a sample under its test and site.

use std::fmt::Write as _;

use crate::run_log::RunLog;
use crate::summary::Summary;

/// The page for `summary`, with the flame graph drawn from `log`.
pub(crate) fn page(summary: &Summary, log: &RunLog) -> Result<String, String> {
    let mut html = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>leakwatch</title>\n\
         <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}\
         td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}\
         td.n{text-align:right}</style></head><body>\n",
    );
    let _ = writeln!(
        html,
        "<h1>leakwatch</h1>\n<p>{} tests checked in {} binaries: {} leaked {} items at {} sites.</p>",
        summary.checked,
        summary.binaries,
        summary.tests.len(),
        summary.items,
        summary.sites.len()
    );
    for note in &summary.notes {
        let _ = writeln!(html, "<p>Note: {}</p>", escape(note));
    }
    html.push_str("<h2>Leaking tests</h2>\n<table><tr><th>binary</th><th>test</th><th>items</th><th>what</th></tr>\n");
    for row in &summary.tests {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td class=n>{}</td><td>{}</td></tr>",
            escape(&row.binary),
            escape(&row.test),
            row.items,
            escape(&row.what)
        );
    }
    html.push_str("</table>\n<h2>By site</h2>\n<table><tr><th>items</th><th>kind</th><th>finding</th><th>site</th><th>tests</th></tr>\n");
    for row in &summary.sites {
        let _ = writeln!(
            html,
            "<tr><td class=n>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            row.items,
            escape(&row.kind),
            escape(&row.finding),
            escape(&row.site),
            escape(&row.tests.join(", "))
        );
    }
    html.push_str("</table>\n");
    if !summary.suppressions.is_empty() {
        html.push_str(
            "<h2>Suppressions</h2>\n<table><tr><th>rule</th><th>findings left out</th></tr>\n",
        );
        for row in &summary.suppressions {
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td class=n>{}</td></tr>",
                escape(&row.rule),
                row.used
            );
        }
        html.push_str("</table>\n");
    }
    if summary.leaked() {
        html.push_str("<h2>Leak sites</h2>\n");
        html.push_str(&flame_graph(log)?);
    }
    html.push_str("</body></html>\n");
    Ok(html)
}

/// Folded stacks, outermost first: binary, test, the stack's functions
/// where taken, then the site; each item one sample.
fn folded(log: &RunLog) -> Vec<String> {
    let mut lines = Vec::new();
    for leak in &log.leaks {
        for group in &leak.groups {
            let mut frames = vec![leak.binary.clone(), leak.test.clone()];
            frames.extend(
                group
                    .stack
                    .iter()
                    .flatten()
                    .rev()
                    .map(|f| f.function.clone()),
            );
            frames.push(format!(
                "{} {} at {}",
                group.kind,
                group.finding,
                group.site()
            ));
            let frames: Vec<String> = frames.iter().map(|f| f.replace(';', ":")).collect();
            lines.push(format!("{} {}", frames.join(";"), group.count));
        }
    }
    lines
}

fn flame_graph(log: &RunLog) -> Result<String, String> {
    let lines = folded(log);
    let mut options = inferno::flamegraph::Options::default();
    options.title = String::from("Leaked items by test and site");
    options.count_name = String::from("items");
    let mut svg = Vec::new();
    inferno::flamegraph::from_lines(&mut options, lines.iter().map(String::as_str), &mut svg)
        .map_err(|err| format!("cannot draw the flame graph: {err}"))?;
    String::from_utf8(svg).map_err(|err| format!("the flame graph is not UTF-8: {err}"))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
