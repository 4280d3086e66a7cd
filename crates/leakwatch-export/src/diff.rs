//! [`Diff`]: how live items changed between two captures, by kind and site.

use std::collections::BTreeMap;
use std::fmt;

use crate::capture::{Capture, CapturedSite};

/// What changed between two captures, counted by kind and site.
///
/// A site that had no items before and has some now *appeared*; one that
/// had some and has none now *went away*; one that has more now *grew*.
/// Changes are ordered by how much they grew, largest first, so a steady
/// leak is the first line.
///
/// ```
/// use leakwatch_export::{Capture, Diff};
///
/// let before = Capture::now();
/// let leaked: Vec<_> = (0..3).map(|_| leakwatch_core::Tag::new("db-conn")).collect();
/// let after = Capture::now();
/// let diff = Diff::between(&before, &after);
/// # if leakwatch_core::COMPILED_IN {
/// let top = &diff.changes()[0];
/// assert_eq!((top.kind(), top.before(), top.after()), ("db-conn", 0, 3));
/// assert_eq!(top.site().file(), file!());
/// # }
/// # drop(leaked);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff {
    changes: Vec<SiteChange>,
}

/// The count of one kind at one site, before and after.
///
/// ```
/// # let diff = leakwatch_export::Diff::default();
/// for change in diff.changes() {
///     println!("{:+} {} at {}", change.delta(), change.kind(), change.site());
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteChange {
    kind: String,
    site: CapturedSite,
    before: usize,
    after: usize,
}

impl Diff {
    /// The changes from `before` to `after`; sites whose count did not
    /// change are left out.
    ///
    /// ```
    /// let now = leakwatch_export::Capture::now();
    /// assert!(leakwatch_export::Diff::between(&now, &now).changes().is_empty());
    /// ```
    pub fn between(before: &Capture, after: &Capture) -> Diff {
        let mut counts: BTreeMap<(&str, &CapturedSite), (usize, usize)> = BTreeMap::new();
        for e in before.entries() {
            counts.entry((e.kind(), e.site())).or_default().0 += 1;
        }
        for e in after.entries() {
            counts.entry((e.kind(), e.site())).or_default().1 += 1;
        }
        let mut changes: Vec<SiteChange> = counts
            .into_iter()
            .filter(|(_, (b, a))| b != a)
            .map(|((kind, site), (before, after))| SiteChange {
                kind: kind.to_owned(),
                site: site.clone(),
                before,
                after,
            })
            .collect();
        // Stable: equal deltas keep the (kind, site) order of the map.
        changes.sort_by_key(|c| std::cmp::Reverse(c.delta()));
        Diff { changes }
    }

    /// Every site whose count changed, largest growth first.
    ///
    /// ```
    /// assert!(leakwatch_export::Diff::default().changes().is_empty());
    /// ```
    pub fn changes(&self) -> &[SiteChange] {
        &self.changes
    }

    /// Sites with items now and none before.
    ///
    /// ```
    /// assert_eq!(leakwatch_export::Diff::default().appeared().count(), 0);
    /// ```
    pub fn appeared(&self) -> impl Iterator<Item = &SiteChange> {
        self.changes.iter().filter(|c| c.before == 0)
    }

    /// Sites with items before and none now.
    ///
    /// ```
    /// assert_eq!(leakwatch_export::Diff::default().went_away().count(), 0);
    /// ```
    pub fn went_away(&self) -> impl Iterator<Item = &SiteChange> {
        self.changes.iter().filter(|c| c.after == 0)
    }

    /// Sites with more items now than before, including those that appeared.
    ///
    /// ```
    /// assert_eq!(leakwatch_export::Diff::default().grew().count(), 0);
    /// ```
    pub fn grew(&self) -> impl Iterator<Item = &SiteChange> {
        self.changes.iter().filter(|c| c.after > c.before)
    }
}

impl SiteChange {
    /// The kind of the items.
    ///
    /// ```
    /// # let diff = leakwatch_export::Diff::default();
    /// # for c in diff.changes() {
    /// println!("{}", c.kind());
    /// # }
    /// ```
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// Where they were opened.
    ///
    /// ```
    /// # let diff = leakwatch_export::Diff::default();
    /// # for c in diff.changes() {
    /// println!("{}", c.site());
    /// # }
    /// ```
    pub fn site(&self) -> &CapturedSite {
        &self.site
    }

    /// How many were live in the first capture.
    ///
    /// ```
    /// # let diff = leakwatch_export::Diff::default();
    /// # for c in diff.changes() {
    /// println!("{}", c.before());
    /// # }
    /// ```
    pub fn before(&self) -> usize {
        self.before
    }

    /// How many were live in the second capture.
    ///
    /// ```
    /// # let diff = leakwatch_export::Diff::default();
    /// # for c in diff.changes() {
    /// println!("{}", c.after());
    /// # }
    /// ```
    pub fn after(&self) -> usize {
        self.after
    }

    /// `after - before`: positive when the site grew.
    ///
    /// ```
    /// # let diff = leakwatch_export::Diff::default();
    /// # for c in diff.changes() {
    /// assert_ne!(c.delta(), 0);
    /// # }
    /// ```
    pub fn delta(&self) -> i64 {
        i64::try_from(self.after).unwrap_or(i64::MAX)
            - i64::try_from(self.before).unwrap_or(i64::MAX)
    }
}

/// One line a change: `+3  db-conn  src/db.rs:42:9  (0 -> 3, appeared)`.
impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.changes.is_empty() {
            return writeln!(f, "no change");
        }
        for c in &self.changes {
            let what = if c.before == 0 {
                "appeared"
            } else if c.after == 0 {
                "went away"
            } else if c.after > c.before {
                "grew"
            } else {
                "shrank"
            };
            writeln!(
                f,
                "{:+7}  {:<12}  {}  ({} -> {}, {what})",
                c.delta(),
                c.kind,
                c.site,
                c.before,
                c.after
            )?;
        }
        Ok(())
    }
}
