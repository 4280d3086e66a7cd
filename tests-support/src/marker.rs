//! Marker lines: a test that must see its own line in a report ends that
//! line with a comment (`// request: current_thread`, `// LEAK file`) and
//! looks the number up here, so moving code around does not break it.

/// The 1-based number of the only line of `source` that ends with
/// `marker` (trailing whitespace aside).
///
/// # Panics
///
/// If no line, or more than one line, ends with `marker`: a test would
/// otherwise compare a report with the wrong line.
///
/// ```
/// use tests_support::marker::line_of;
///
/// let source = "fn main() {\n    let file = open(); // LEAK file\n}\n";
/// assert_eq!(line_of(source, "// LEAK file"), 2);
/// ```
#[track_caller]
pub fn line_of(source: &str, marker: &str) -> u32 {
    let mut lines = source
        .lines()
        .enumerate()
        .filter(|(_, line)| line.trim_end().ends_with(marker));
    let (index, _) = lines
        .next()
        .unwrap_or_else(|| panic!("no line ends with {marker:?}"));
    if let Some((second, _)) = lines.next() {
        panic!(
            "lines {} and {} both end with {marker:?}",
            index + 1,
            second + 1
        );
    }
    u32::try_from(index + 1).expect("a source file of fewer than 2^32 lines")
}

/// The lines of the fenced block that follows the first `marker` in
/// `page` (a Markdown page whose examples follow comments such as
/// `<!-- message: NAME -->`), its fence's language being `language`.
///
/// # Panics
///
/// If `page` has no `marker`, the marker is not followed by a
/// `` ```language `` fence, or the block is never closed; each message
/// names the marker.
///
/// ```
/// use tests_support::marker::block_after;
///
/// let page = "# Messages\n<!-- message: leak -->\n```text\nLEAK 1 file\nLEAK   here\n```\n";
/// assert_eq!(
///     block_after(page, "<!-- message: leak -->", "text"),
///     ["LEAK 1 file", "LEAK   here"]
/// );
/// ```
#[track_caller]
pub fn block_after<'a>(page: &'a str, marker: &str, language: &str) -> Vec<&'a str> {
    let (_, after) = page
        .split_once(marker)
        .unwrap_or_else(|| panic!("the page has no `{marker}`"));
    let fence = format!("```{language}\n");
    let body = after
        .trim_start()
        .strip_prefix(fence.as_str())
        .unwrap_or_else(|| panic!("`{marker}` is not followed by a ```{language} block"));
    let (block, _) = body
        .split_once("```")
        .unwrap_or_else(|| panic!("the block after `{marker}` is not closed"));
    block.lines().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "lines 1 and 3 both end with")]
    fn two_marked_lines_are_refused() {
        line_of("a(); // here\nb();\nc(); // here\n", "// here");
    }

    #[test]
    #[should_panic(expected = "no line ends with \"// gone\"")]
    fn a_missing_marker_is_named() {
        line_of("a(); // here\n", "// gone");
    }

    #[test]
    #[should_panic(expected = "is not followed by a ```text block")]
    fn a_marker_without_its_block_is_named() {
        block_after("<!-- m -->\nplain text\n", "<!-- m -->", "text");
    }
}
