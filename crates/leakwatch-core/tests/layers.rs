//! The module layers stated in `src/lib.rs`, checked: every `crate::`
//! path outside tests and comments goes to a module on a line above its
//! own, so the modules form no cycle.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The layers of `src/lib.rs`'s docs, top first.
const LAYERS: &[&[&str]] = &[
    &[
        "scope_id", "config", "clock", "stack", "sync", "backoff", "macros", "rounds",
    ],
    &["registry"],
    &["current"],
    &["snapshot"],
    &["external"],
    &["report", "ignore"],
    &["settings"],
    &["scope", "tag", "by_id"],
];

fn layer(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|layer| layer.contains(&module))
        .unwrap_or_else(|| {
            panic!("module `{module}` is in no layer: add it to LAYERS and to lib.rs's docs")
        })
}

/// The `.rs` files under `path`.
fn files(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_owned()];
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())) {
        out.extend(files(&entry.unwrap().path()));
    }
    out.retain(|p| p.extension().is_some_and(|e| e == "rs"));
    out
}

/// The modules `source` names as `crate::module`, leaving out comments and
/// everything from the first `#[cfg(test)]` on (tests may use anything).
fn uses(source: &str) -> BTreeSet<String> {
    let code = source.split("#[cfg(test)]").next().unwrap_or_default();
    let mut used = BTreeSet::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap_or_default();
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let names: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => group
                    .split('}')
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .map(|n| n.trim().split("::").next().unwrap_or_default())
                    .collect(),
                None => vec![
                    rest.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .next()
                        .unwrap_or_default(),
                ],
            };
            used.extend(
                names
                    .into_iter()
                    .filter(|n| n.starts_with(|c: char| c.is_ascii_lowercase()))
                    .map(str::to_owned),
            );
        }
    }
    used
}

#[test]
fn every_module_uses_only_layers_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut wrong = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "lib" {
            continue;
        }
        let mine = layer(&name);
        for file in files(&path) {
            let source = std::fs::read_to_string(&file).unwrap();
            for used in uses(&source) {
                if used != name && layer(&used) >= mine {
                    wrong.push(format!("{} uses crate::{used}", file.display()));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "uses against the layers of lib.rs:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_parser_sees_paths_and_groups_but_not_comments_or_tests() {
    let source = "use crate::registry::ids;\nuse crate::{clock, stack::Stack};\n/// [`x`](crate::scope)\nlet a = crate::config::level(); // crate::tag\n#[cfg(test)]\nuse crate::scope;";
    let used: Vec<String> = uses(source).into_iter().collect();
    assert_eq!(used, ["clock", "config", "registry", "stack"]);
}
