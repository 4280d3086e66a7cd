//! `leakwatch flame`: live items by stack, as an SVG flame graph.

use std::path::Path;
use std::time::Duration;

use leakwatch_export::Capture;

pub fn run(source: &str, output: &Path, timeout: Duration) -> Result<(), String> {
    let capture = crate::source::read(source, timeout)?;
    if capture.entries().is_empty() {
        return Err(format!(
            "{source}: no live items, so no flame graph to draw"
        ));
    }
    let lines = folded(&capture);
    let mut options = inferno::flamegraph::Options::default();
    options.title = "leakwatch: live items".to_owned();
    options.subtitle = Some(source.to_owned());
    options.count_name = "items".to_owned();
    // Colors from the function's name, so a frame keeps its color from one
    // capture's graph to the next.
    options.hash = true;
    let file = std::fs::File::create(output)
        .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
    inferno::flamegraph::from_lines(
        &mut options,
        lines.iter().map(String::as_str),
        std::io::BufWriter::new(file),
    )
    .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
    eprintln!(
        "wrote {} ({} items)",
        output.display(),
        capture.entries().len()
    );
    Ok(())
}

/// One `kind;outermost;...;innermost count` line per distinct stack: the
/// kind at the root, then the frames, or the site alone when there is no
/// stack. `;` inside a name (as in `[u8; 4]`) would split a frame, so it
/// is written as `,`.
fn folded(capture: &Capture) -> Vec<String> {
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for entry in capture.entries() {
        let mut stack = entry.kind().replace(';', ",");
        if entry.frames().is_empty() {
            stack.push(';');
            stack.push_str(&entry.site().to_string().replace(';', ","));
        } else {
            for frame in entry.frames().iter().rev() {
                stack.push(';');
                stack.push_str(&frame.function().replace(';', ","));
            }
        }
        *counts.entry(stack).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(stack, n)| format!("{stack} {n}"))
        .collect()
}
