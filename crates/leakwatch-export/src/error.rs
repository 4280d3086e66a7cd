//! Errors reading a capture back.

/// The JSON format version `Capture::to_json` writes and
/// `Capture::from_json` reads (kept here, where a reader's error names it).
pub(crate) const FORMAT: u64 = 2;
use std::fmt;

/// A capture that could not be read, naming what was wrong with it.
///
/// ```
/// let err = leakwatch_export::Capture::from_json("{}").unwrap_err();
/// assert!(err.to_string().starts_with("not a leakwatch capture"));
/// ```
#[derive(Debug)]
pub struct ReadError {
    kind: ReadErrorKind,
}

/// What was wrong with the input.
///
/// ```
/// use leakwatch_export::{Capture, ReadErrorKind};
///
/// let err = Capture::from_json("[1, 2]").unwrap_err();
/// assert!(matches!(err.kind(), ReadErrorKind::NotACapture(_)));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ReadErrorKind {
    /// Not JSON, or JSON of another shape; the parser's message.
    NotACapture(String),
    /// A capture of a format version this build does not read.
    UnsupportedVersion(u64),
    /// Neither gzip nor a protobuf `Profile`; the decoder's message.
    NotAProfile(String),
}

impl ReadError {
    pub(crate) fn new(kind: ReadErrorKind) -> ReadError {
        ReadError { kind }
    }

    /// What was wrong.
    ///
    /// ```
    /// # let err = leakwatch_export::Capture::from_json("").unwrap_err();
    /// println!("{:?}", err.kind());
    /// ```
    pub fn kind(&self) -> &ReadErrorKind {
        &self.kind
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ReadErrorKind::NotACapture(why) => write!(f, "not a leakwatch capture: {why}"),
            ReadErrorKind::UnsupportedVersion(v) => write!(
                f,
                "leakwatch capture format {v} is not supported (this build reads format {})",
                FORMAT
            ),
            ReadErrorKind::NotAProfile(why) => write!(f, "not a pprof profile: {why}"),
        }
    }
}

impl std::error::Error for ReadError {}
