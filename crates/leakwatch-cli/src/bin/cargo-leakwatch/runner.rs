//! Only the test binaries get the library: cargo and cargo-nextest start
//! each test binary through the target's runner
//! (`CARGO_TARGET_<TRIPLE>_RUNNER`), and this command is that runner. It
//! sets `LD_PRELOAD` for the one binary it starts, so cargo, rustc, build
//! scripts and doctests never load the library, and the library takes
//! itself out of `LD_PRELOAD` as it starts, so the processes a test starts
//! (a `sleep`, `git`, a C tool) never load it either.

use std::ffi::OsString;
use std::os::unix::process::CommandExt as _;
use std::process::Command;

/// The library the runner preloads, set by `cargo leakwatch test` for it.
pub(crate) const LIB_ENV: &str = "LEAKWATCH_PRELOAD_RUNNER_LIB";
/// A runner the user had set for the target, which this one starts the
/// binary through.
pub(crate) const THEIRS_ENV: &str = "LEAKWATCH_PRELOAD_RUNNER_THEIRS";

/// The environment variable naming `triple`'s runner.
pub(crate) fn variable(triple: &str) -> String {
    format!(
        "CARGO_TARGET_{}_RUNNER",
        triple.to_ascii_uppercase().replace(['-', '.'], "_")
    )
}

/// Starts `binary` with `args` with the library preloaded, in place of
/// this process; returns only if it cannot be started.
pub(crate) fn exec(binary: &OsString, args: &[OsString]) -> String {
    let Some(lib) = std::env::var_os(LIB_ENV) else {
        return format!("{LIB_ENV} is not set: this runner is started by `cargo leakwatch test`");
    };
    let preload = match std::env::var_os("LD_PRELOAD") {
        Some(others) if !others.is_empty() => {
            let mut all = lib;
            all.push(" ");
            all.push(others);
            all
        }
        _ => lib,
    };
    let mut command = match std::env::var(THEIRS_ENV) {
        Ok(theirs) if !theirs.trim().is_empty() => {
            let mut words = theirs.split_whitespace();
            let mut command = Command::new(words.next().expect("not empty"));
            command.args(words).arg(binary);
            command
        }
        _ => Command::new(binary),
    };
    let err = command.args(args).env("LD_PRELOAD", preload).exec();
    format!("cannot start {}: {err}", binary.to_string_lossy())
}

/// The targets whose runner to set: the host's, and any `--target` among
/// the cargo arguments.
pub(crate) fn triples(args: &[String]) -> Result<Vec<String>, String> {
    let output = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .arg("-vV")
        .output()
        .map_err(|err| format!("cannot run rustc -vV: {err}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let host = text
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .ok_or("rustc -vV named no host")?;
    let mut triples = vec![host.to_owned()];
    let mut it = args.iter().take_while(|a| *a != "--");
    while let Some(arg) = it.next() {
        let target = match arg.strip_prefix("--target=") {
            Some(t) => Some(t.to_owned()),
            None if arg == "--target" => it.next().cloned(),
            None => None,
        };
        if let Some(t) = target
            && !triples.contains(&t)
        {
            triples.push(t);
        }
    }
    Ok(triples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runner_variable_is_cargos() {
        assert_eq!(
            variable("x86_64-unknown-linux-gnu"),
            "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER"
        );
    }

    #[test]
    fn a_target_among_the_arguments_gets_a_runner_too() {
        let args: Vec<String> = [
            "-p",
            "x",
            "--target",
            "aarch64-unknown-linux-gnu",
            "--",
            "--target",
            "no",
        ]
        .map(String::from)
        .into();
        let triples = triples(&args).unwrap();
        assert!(
            triples.contains(&"aarch64-unknown-linux-gnu".to_owned()),
            "{triples:?}"
        );
        assert!(!triples.contains(&"no".to_owned()));
    }
}
