//! Which kinds of interposed items a check attributes: descriptors,
//! threads and child processes, each switched off for the process
//! (`LEAKWATCH_DETECT=-fd`, or the suite's `.config/leakwatch.toml`) or for
//! one test (`#[leakwatch::test(fds = false)]`). Where a kind is off, or
//! not seen on this platform, a test cannot be blamed for it; its watch
//! (the `watch` module) says instead what the process gained meanwhile.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, OnceLock};

use leakwatch_core::ScopeId;

/// The environment variable that switches kinds off for the process.
pub(crate) const ENV: &str = "LEAKWATCH_DETECT";

/// Which kinds a check attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Detect {
    /// Descriptors.
    pub fds: bool,
    /// Threads.
    pub threads: bool,
    /// Child processes.
    pub children: bool,
}

impl Default for Detect {
    fn default() -> Detect {
        Detect::ALL
    }
}

/// A `LEAKWATCH_DETECT` value that is not valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetectError {
    value: String,
    part: String,
}

impl fmt::Display for DetectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{ENV}=`{}` is not valid: `{}` is not a kind; expected a comma-separated list of \
             `fd`, `thread` and `child`, each with `-` to switch it off (`-fd`) or `+` to switch \
             it on, or `all` or `none`",
            self.value, self.part
        )
    }
}

impl std::error::Error for DetectError {}

impl Detect {
    /// Every kind on: the default.
    pub const ALL: Detect = Detect {
        fds: true,
        threads: true,
        children: true,
    };

    /// A `LEAKWATCH_DETECT` value applied in order to this setting (the
    /// suite's settings file's, or every kind on), so that the environment
    /// wins where it says something: over every kind on, `none,+fd` is
    /// descriptors only.
    pub fn parse_over(self, value: &str) -> Result<Detect, DetectError> {
        let mut detect = self;
        for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (on, kind) = match part.as_bytes()[0] {
                b'-' => (false, &part[1..]),
                b'+' => (true, &part[1..]),
                _ => (true, part),
            };
            match kind.trim() {
                "fd" | "fds" => detect.fds = on,
                "thread" | "threads" => detect.threads = on,
                "child" | "children" => detect.children = on,
                "all" if part == kind => detect = Detect::ALL,
                "none" if part == kind => {
                    detect = Detect {
                        fds: false,
                        threads: false,
                        children: false,
                    }
                }
                _ => {
                    return Err(DetectError {
                        value: value.to_owned(),
                        part: part.to_owned(),
                    });
                }
            }
        }
        Ok(detect)
    }

    /// The process's setting: `LEAKWATCH_DETECT` over the suite's settings
    /// file's `[detect]` (both read once).
    pub fn from_env() -> Result<Detect, DetectError> {
        static ONCE: OnceLock<Result<Detect, DetectError>> = OnceLock::new();
        ONCE.get_or_init(|| {
            let base = match leakwatch_core::Settings::suite() {
                Ok(Some(settings)) => {
                    let s = settings.switches();
                    Detect::ALL.with(s.fds, s.threads, s.children)
                }
                // A bad file fails every check with its error.
                _ => Detect::ALL,
            };
            match std::env::var(ENV) {
                Ok(value) => base.parse_over(&value),
                Err(_) => Ok(base),
            }
        })
        .clone()
    }

    /// This setting with a test's own `fds`, `threads` and `children`
    /// arguments, which win over the environment's.
    pub fn with(self, fds: Option<bool>, threads: Option<bool>, children: Option<bool>) -> Detect {
        Detect {
            fds: fds.unwrap_or(self.fds),
            threads: threads.unwrap_or(self.threads),
            children: children.unwrap_or(self.children),
        }
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Settings of scopes checked with something switched off; the others
/// use the environment's.
static SETTINGS: Mutex<Option<HashMap<ScopeId, Detect>>> = Mutex::new(None);

pub(crate) fn setting(scope: ScopeId) -> Detect {
    lock(&SETTINGS)
        .as_ref()
        .and_then(|settings| settings.get(&scope).copied())
        .unwrap_or_else(|| Detect::from_env().unwrap_or(Detect::ALL))
}

/// Makes `detect` the setting of `scope` until [`forget`].
pub(crate) fn set(scope: ScopeId, detect: Detect) {
    lock(&SETTINGS)
        .get_or_insert_with(HashMap::new)
        .insert(scope, detect);
}

/// Returns `scope` to the process's setting.
pub(crate) fn forget(scope: ScopeId) {
    if let Some(settings) = lock(&SETTINGS).as_mut() {
        settings.remove(&scope);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kinds_in_order_and_names_a_bad_one() {
        assert_eq!(Detect::ALL.parse_over("").unwrap(), Detect::ALL);
        assert_eq!(
            Detect::ALL.parse_over("-fd").unwrap(),
            Detect {
                fds: false,
                ..Detect::ALL
            }
        );
        assert_eq!(
            Detect::ALL.parse_over("none, +thread").unwrap(),
            Detect {
                fds: false,
                threads: true,
                children: false
            }
        );
        assert_eq!(Detect::ALL.parse_over("-child,all").unwrap(), Detect::ALL);
        for bad in ["-sockets", "fd,+", "-none", "heap"] {
            let err = Detect::ALL.parse_over(bad).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("LEAKWATCH_DETECT=`{bad}` is not valid: `")),
                "{err}"
            );
        }
    }
}
