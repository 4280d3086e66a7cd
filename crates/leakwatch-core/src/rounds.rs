//! How many rounds a leak hunt runs: one parser for the attribute's
//! `hunt = "3:5"`, checked when the test compiles, and for the hunts run
//! from code.

use std::fmt;
use std::str::FromStr;

/// The form every error about rounds ends with.
const FORM: &str = "expected \"WARMUP:MEASURED\" rounds, such as `hunt = \"3:5\"`";

/// How many warm-up and measured rounds a hunt runs, parsed from
/// `"warmup:measured"`.
///
/// ```
/// let rounds: leakwatch_core::Rounds = "3:5".parse().unwrap();
/// assert_eq!((rounds.warmup(), rounds.measured()), (3, 5));
/// assert_eq!(
///     "3".parse::<leakwatch_core::Rounds>().unwrap_err().to_string(),
///     "`hunt = \"3\"` is not valid: expected \"WARMUP:MEASURED\" rounds, such as `hunt = \"3:5\"`"
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rounds {
    warmup: usize,
    measured: usize,
}

/// Fewer than 2 measured rounds, or a malformed `"warmup:measured"`.
///
/// ```
/// let err = leakwatch_core::Rounds::new(1, 1).unwrap_err();
/// assert!(err.to_string().contains("at least 2 measured rounds"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoundsError {
    input: String,
    reason: String,
}

impl fmt::Display for RoundsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`hunt = \"{}\"` is not valid: {}",
            self.input, self.reason
        )
    }
}

impl std::error::Error for RoundsError {}

impl Rounds {
    /// `warmup` rounds, then `measured` rounds (at least 2: one round
    /// cannot tell a leak from a one-off).
    ///
    /// ```
    /// assert!(leakwatch_core::Rounds::new(0, 2).is_ok());
    /// ```
    pub fn new(warmup: usize, measured: usize) -> Result<Rounds, RoundsError> {
        if measured < 2 {
            return Err(RoundsError {
                input: format!("{warmup}:{measured}"),
                reason: "it needs at least 2 measured rounds to tell growth from a one-off, such \
                         as `hunt = \"3:5\"`"
                    .to_owned(),
            });
        }
        Ok(Rounds { warmup, measured })
    }

    /// Warm-up rounds.
    ///
    /// ```
    /// assert_eq!(leakwatch_core::Rounds::new(3, 5).unwrap().warmup(), 3);
    /// ```
    pub fn warmup(&self) -> usize {
        self.warmup
    }

    /// Measured rounds.
    ///
    /// ```
    /// assert_eq!(leakwatch_core::Rounds::new(3, 5).unwrap().measured(), 5);
    /// ```
    pub fn measured(&self) -> usize {
        self.measured
    }
}

impl FromStr for Rounds {
    type Err = RoundsError;

    fn from_str(s: &str) -> Result<Rounds, RoundsError> {
        let bad = |reason: String| RoundsError {
            input: s.to_owned(),
            reason,
        };
        let (warmup, measured) = s.split_once(':').ok_or_else(|| bad(FORM.to_owned()))?;
        let count = |part: &str, what: &str| {
            part.trim().parse::<usize>().map_err(|_| {
                bad(format!(
                    "the {what} count `{part}` is not a whole number; {FORM}"
                ))
            })
        };
        let (warmup, measured) = (count(warmup, "warm-up")?, count(measured, "measured")?);
        Rounds::new(warmup, measured).map_err(|err| bad(err.reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_bad_form_names_its_input() {
        assert_eq!(" 0 : 2 ".parse(), Ok(Rounds::new(0, 2).unwrap()));
        for bad in ["3", "a:5", "3:b", "3:0", "3:1", "-1:5", "3:5:7", ""] {
            let err = bad.parse::<Rounds>().unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("`hunt = \"{bad}\"` is not valid: ")),
                "{err}"
            );
        }
        assert_eq!(
            "a:5".parse::<Rounds>().unwrap_err().to_string(),
            "`hunt = \"a:5\"` is not valid: the warm-up count `a` is not a whole number; expected \
             \"WARMUP:MEASURED\" rounds, such as `hunt = \"3:5\"`"
        );
    }
}
