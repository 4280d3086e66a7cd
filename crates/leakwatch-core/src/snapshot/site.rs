//! Where an item was opened.

use std::borrow::Cow;
use std::fmt;
use std::panic::Location;

/// Where an item was opened: a file, line and column.
///
/// A tracked item's site is its caller's [`Location`]; an item seen from
/// outside the registry ([`Item::external`](crate::Item::external)) takes its site from the
/// first frame of the user's code on its stack, or has none known
/// ([`Site::unknown`]), which a report prints as the text given.
///
/// ```
/// let site = leakwatch_core::Site::new("tests/db.rs", 12, 5);
/// assert_eq!((site.file(), site.line(), site.column()), ("tests/db.rs", 12, 5));
/// assert_eq!(site.to_string(), "tests/db.rs:12:5");
/// let unknown = leakwatch_core::Site::unknown("an unknown line");
/// assert!(!unknown.is_known());
/// assert_eq!(unknown.to_string(), "an unknown line");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Site {
    file: Cow<'static, str>,
    /// Zero for a site that is not known.
    line: u32,
    column: u32,
}

impl Site {
    /// A site at `file:line:column`.
    ///
    /// ```
    /// let site = leakwatch_core::Site::new(String::from("src/lib.rs"), 3, 1);
    /// assert_eq!(site.line(), 3);
    /// ```
    pub fn new(file: impl Into<Cow<'static, str>>, line: u32, column: u32) -> Site {
        Site {
            file: file.into(),
            line,
            column,
        }
    }

    /// A site that is not known, printed as `what` (which says why).
    ///
    /// ```
    /// let site = leakwatch_core::Site::unknown("no stack captured");
    /// assert_eq!((site.file(), site.line()), ("no stack captured", 0));
    /// ```
    pub fn unknown(what: impl Into<Cow<'static, str>>) -> Site {
        Site::new(what, 0, 0)
    }

    /// The source file (for an unknown site, the text given).
    ///
    /// ```
    /// assert_eq!(leakwatch_core::Site::new("a.rs", 1, 1).file(), "a.rs");
    /// ```
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The line, zero when the site is not known.
    ///
    /// ```
    /// assert_eq!(leakwatch_core::Site::new("a.rs", 7, 1).line(), 7);
    /// ```
    pub fn line(&self) -> u32 {
        self.line
    }

    /// The column (zero when not known).
    ///
    /// ```
    /// assert_eq!(leakwatch_core::Site::new("a.rs", 7, 9).column(), 9);
    /// ```
    pub fn column(&self) -> u32 {
        self.column
    }

    /// Whether a line is known.
    ///
    /// ```
    /// assert!(leakwatch_core::Site::new("a.rs", 7, 9).is_known());
    /// ```
    pub fn is_known(&self) -> bool {
        self.line != 0
    }

    /// As a report prints it: the file shortened as
    /// [`short_path`](crate::stack) does (relative to the workspace, a
    /// registry crate from its `name-version` folder).
    pub(crate) fn shown(&self) -> String {
        if !self.is_known() {
            return self.file.to_string();
        }
        let file = crate::stack::short_path(&self.file);
        match self.column {
            0 => format!("{file}:{}", self.line),
            column => format!("{file}:{}:{column}", self.line),
        }
    }
}

impl From<&'static Location<'static>> for Site {
    fn from(location: &'static Location<'static>) -> Site {
        Site::new(location.file(), location.line(), location.column())
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if self.is_known() {
            write!(f, ":{}", self.line)?;
            if self.column != 0 {
                write!(f, ":{}", self.column)?;
            }
        }
        Ok(())
    }
}
