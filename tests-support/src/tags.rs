//! Many live tags at a few sites, as a busy service holds them: what the
//! export and scrape benches measure a view of.

use leakwatch_core::Tag;

/// `count` tags over five sites (the arms below, one line each) and four
/// kinds, each with its own detail (an address).
///
/// ```
/// let tags = tests_support::tags::many(10);
/// assert_eq!(tags.len(), 10);
/// ```
pub fn many(count: usize) -> Vec<Tag> {
    let kinds = ["tcp", "file", "db-conn", "task"];
    (0..count)
        .map(|i| {
            let kind = kinds[i % kinds.len()];
            let detail = format!("10.0.{}.{}:5432", i / 256 % 256, i % 256);
            match i % 5 {
                0 => Tag::with_detail(kind, detail),
                1 => Tag::with_detail(kind, detail),
                2 => Tag::with_detail(kind, detail),
                3 => Tag::with_detail(kind, detail),
                _ => Tag::with_detail(kind, detail),
            }
        })
        .collect()
}
