//! [`Filter`]: which entries of a capture to keep.

use std::time::Duration;

use crate::capture::{Capture, Entry};

/// Keeps the entries of a capture that match every condition set: kind,
/// scope, site and minimum age. A filter with no condition keeps all.
///
/// A site is matched as `file`, `file:line` or `file:line:column`, where
/// `file` matches a site's file exactly or as its trailing path components
/// (`db.rs` matches `src/db.rs`, `b.rs` does not).
///
/// ```
/// use std::time::Duration;
/// use leakwatch_export::{Capture, Filter};
///
/// let filter = Filter::new()
///     .kind("db-conn")
///     .site("src/db.rs:42")
///     .min_age(Duration::from_secs(30));
/// let old_connections = filter.apply(&Capture::now());
/// # let _ = old_connections;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    kinds: Vec<String>,
    scopes: Vec<u64>,
    sites: Vec<SitePattern>,
    min_age: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct SitePattern {
    file: String,
    line: Option<u32>,
    column: Option<u32>,
}

impl Filter {
    /// A filter that keeps everything.
    ///
    /// ```
    /// let all = leakwatch_export::Filter::new();
    /// # let _ = all;
    /// ```
    pub fn new() -> Filter {
        Filter::default()
    }

    /// Keeps entries of `kind`; given more than once, of any of them.
    ///
    /// ```
    /// let f = leakwatch_export::Filter::new().kind("tcp").kind("file");
    /// # let _ = f;
    /// ```
    #[must_use]
    pub fn kind(mut self, kind: impl Into<String>) -> Filter {
        self.kinds.push(kind.into());
        self
    }

    /// Keeps entries opened in `scope`; given more than once, in any of them.
    ///
    /// ```
    /// let scope = leakwatch_core::Scope::new("job");
    /// let f = leakwatch_export::Filter::new().scope(scope.id());
    /// # let _ = f;
    /// ```
    #[must_use]
    pub fn scope(mut self, scope: leakwatch_core::ScopeId) -> Filter {
        self.scopes.push(scope.as_u64());
        self
    }

    /// Keeps entries opened at `site` (`file`, `file:line` or
    /// `file:line:column`); given more than once, at any of them. A part
    /// after the file that is not a number is taken as part of the file.
    ///
    /// ```
    /// let f = leakwatch_export::Filter::new().site("src/pool.rs:88");
    /// # let _ = f;
    /// ```
    #[must_use]
    pub fn site(mut self, site: &str) -> Filter {
        self.sites.push(SitePattern::parse(site));
        self
    }

    /// Keeps entries at least `age` old.
    ///
    /// ```
    /// let f = leakwatch_export::Filter::new().min_age(std::time::Duration::from_secs(60));
    /// # let _ = f;
    /// ```
    #[must_use]
    pub fn min_age(mut self, age: Duration) -> Filter {
        self.min_age = age;
        self
    }

    /// Whether `entry` passes every condition.
    ///
    /// ```
    /// let capture = leakwatch_export::Capture::now();
    /// let filter = leakwatch_export::Filter::new();
    /// assert!(capture.entries().iter().all(|e| filter.matches(e)));
    /// ```
    pub fn matches(&self, entry: &Entry) -> bool {
        (self.kinds.is_empty() || self.kinds.iter().any(|k| k == entry.kind()))
            && (self.scopes.is_empty() || self.scopes.contains(&entry.scope()))
            && (self.sites.is_empty() || self.sites.iter().any(|p| p.matches(entry)))
            && entry.age() >= self.min_age
    }

    /// The entries of `capture` that match, as a capture taken at the same
    /// moment.
    ///
    /// ```
    /// let kept = leakwatch_export::Filter::new().kind("none such").apply(&leakwatch_export::Capture::now());
    /// assert!(kept.entries().is_empty());
    /// ```
    pub fn apply(&self, capture: &Capture) -> Capture {
        capture.retain(|e| self.matches(e))
    }
}

impl SitePattern {
    fn parse(site: &str) -> SitePattern {
        let mut file = site;
        let mut numbers = Vec::new();
        while numbers.len() < 2 {
            match file.rsplit_once(':') {
                Some((rest, n)) => match n.parse::<u32>() {
                    Ok(n) => {
                        numbers.push(n);
                        file = rest;
                    }
                    Err(_) => break,
                },
                None => break,
            }
        }
        numbers.reverse();
        SitePattern {
            file: file.to_owned(),
            line: numbers.first().copied(),
            column: numbers.get(1).copied(),
        }
    }

    fn matches(&self, entry: &Entry) -> bool {
        let site = entry.site();
        let file = site.file();
        let file_matches = file == self.file
            || file
                .strip_suffix(self.file.as_str())
                .is_some_and(|head| head.ends_with('/') || head.ends_with('\\'));
        file_matches
            && self.line.is_none_or(|l| l == site.line())
            && self.column.is_none_or(|c| c == site.column())
    }
}

#[cfg(test)]
mod tests {
    use super::SitePattern;

    #[test]
    fn parses_file_line_and_column() {
        let p = SitePattern::parse("src/db.rs:42:9");
        assert_eq!(
            (p.file.as_str(), p.line, p.column),
            ("src/db.rs", Some(42), Some(9))
        );
        let p = SitePattern::parse("src/db.rs:42");
        assert_eq!(
            (p.file.as_str(), p.line, p.column),
            ("src/db.rs", Some(42), None)
        );
        let p = SitePattern::parse("C:\\src\\db.rs");
        assert_eq!(
            (p.file.as_str(), p.line, p.column),
            ("C:\\src\\db.rs", None, None)
        );
    }
}
