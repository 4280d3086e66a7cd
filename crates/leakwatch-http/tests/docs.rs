//! The code the documents show is the code CI builds: each block after an
//! `<!-- example: PATH -->` line in README.md and docs/production.md is
//! the file at PATH (an example that `cargo clippy --all-targets` builds),
//! byte for byte.

use std::path::Path;

/// The repository's root.
fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// `(path, block)` for each marked block of `doc`.
fn marked_blocks(doc: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        let Some(path) = line
            .strip_prefix("<!-- example: ")
            .and_then(|rest| rest.strip_suffix(" -->"))
        else {
            continue;
        };
        let fence = lines.next().unwrap_or_default();
        assert!(
            fence.starts_with("```rust"),
            "{path}: the marker is not followed by a ```rust block but by {fence:?}"
        );
        let mut block = String::new();
        for line in lines.by_ref().take_while(|l| *l != "```") {
            block.push_str(line);
            block.push('\n');
        }
        found.push((path.to_owned(), block));
    }
    found
}

fn check(doc_path: &str, expected_examples: &[&str]) {
    let doc = std::fs::read_to_string(root().join(doc_path)).unwrap();
    let blocks = marked_blocks(&doc);
    let paths: Vec<&str> = blocks.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, expected_examples, "{doc_path}'s marked blocks");
    for (path, block) in blocks {
        let file = std::fs::read_to_string(root().join(&path))
            .unwrap_or_else(|e| panic!("{doc_path} shows {path}, which cannot be read: {e}"));
        assert_eq!(
            block, file,
            "{doc_path}'s block differs from {path}: copy the file into the document"
        );
    }
}

#[test]
fn readme_shows_the_axum_example() {
    check("README.md", &["crates/leakwatch-http/examples/axum.rs"]);
}

#[test]
fn the_production_guide_shows_the_production_example() {
    check(
        "docs/production.md",
        &["crates/leakwatch-http/examples/production.rs"],
    );
}

#[test]
fn marked_blocks_are_read_whole_and_unmarked_ones_skipped() {
    let doc = "<!-- example: a.rs -->\n```rust\nfn main() {}\n```\n";
    assert_eq!(
        marked_blocks(doc),
        [("a.rs".to_owned(), "fn main() {}\n".to_owned())]
    );
    assert!(marked_blocks("```rust\nfn main() {}\n```\n").is_empty());
}
