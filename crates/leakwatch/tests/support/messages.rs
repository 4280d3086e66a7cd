//! The page of messages (`docs/messages.md`) against what leakwatch
//! prints: each example there follows a `<!-- message: NAME -->` marker,
//! and [`assert_shown`] checks that its lines appear, one after another, in
//! a test's output. Sites, durations, ids, thread names and test paths
//! differ from run to run, so both sides have them replaced by placeholders
//! first ([`normalize`]); every other character must match.

const PAGE: &str = include_str!("../../docs/messages.md");

/// The lines of the example that follows `<!-- message: NAME -->`.
pub fn example(name: &str) -> Vec<&'static str> {
    tests_support::marker::block_after(PAGE, &format!("<!-- message: {name} -->"), "text")
}

/// Checks that the example NAME appears, line after line, in `printed`.
#[track_caller]
pub fn assert_shown(name: &str, printed: &str) {
    let expected: Vec<String> = example(name).into_iter().map(normalize).collect();
    let printed_lines: Vec<String> = printed.lines().map(normalize).collect();
    let found = printed_lines
        .windows(expected.len())
        .any(|window| window == expected.as_slice());
    assert!(
        found,
        "docs/messages.md's `{name}` is not what leakwatch prints.\n\
         listed (normalized):\n{}\n\nprinted (normalized):\n{}",
        expected.join("\n"),
        printed_lines.join("\n"),
    );
}

/// `line` with what differs between runs replaced by placeholders: a source
/// location (`FILE:L:C`), a duration (`DUR`), the number after `id` (`N`),
/// a thread name after `thread` (`'T'`), and a path in backticks (`PATH`).
pub fn normalize(line: &str) -> String {
    let mut out = Vec::new();
    let mut previous = "";
    for word in line.split(' ') {
        let lead_len = word.len() - word.trim_start_matches(['(', '`', '\'', '"']).len();
        let (lead, rest) = word.split_at(lead_len);
        let core = rest.trim_end_matches([',', ')', ':', ';', '`', '\'', '"', '.']);
        let trail = &rest[core.len()..];
        let core = if core.contains(".rs:") {
            "FILE:L:C"
        } else if is_duration(core) {
            "DUR"
        } else if previous == "id" && !core.is_empty() && core.bytes().all(|b| b.is_ascii_digit()) {
            "N"
        } else if previous == "thread" && lead == "'" {
            "T"
        } else if lead.ends_with('`') && core.contains("::") {
            "PATH"
        } else {
            core
        };
        out.push(format!("{lead}{core}{trail}"));
        previous = rest.trim_end_matches([',', ')', ':', ';', '`', '\'', '"', '.']);
    }
    out.join(" ")
}

/// `850ms`, `3.2s`, `60µs`, `4m07s`, `2h13m`.
pub fn is_duration(word: &str) -> bool {
    let unit = word.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
    let number = &word[..word.len() - unit.len()];
    if number.is_empty() || !number.starts_with(|c: char| c.is_ascii_digit()) {
        return false;
    }
    match unit {
        "ns" | "µs" | "us" | "ms" | "s" => true,
        _ => {
            let minutes = unit.strip_prefix('m').or_else(|| unit.strip_prefix('h'));
            minutes.is_some_and(|rest| {
                let digits = rest.trim_end_matches(['s', 'm']);
                !digits.is_empty()
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && digits.len() + 1 == rest.len()
            })
        }
    }
}
