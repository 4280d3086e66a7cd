//! Without the `settings` feature a file is an error, never ignored.

use super::Settings;
use crate::config::SettingsError;

pub(super) fn parse(_text: &str, file: &str) -> Result<Settings, SettingsError> {
    Err(SettingsError::new(
        file,
        None,
        None,
        "this build of leakwatch has no `settings` feature to read it",
    ))
}
