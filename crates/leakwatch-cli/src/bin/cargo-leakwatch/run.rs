//! A run: the suite under the preload, then its findings and summary.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use leakwatch_core::Ignore;

use crate::preload::{self, cargo};
use crate::run_log::RunLog;
use crate::runner;
use crate::summary::Summary;
use crate::{Runner, TestArgs};

/// What the preload reads (`leakwatch-preload`'s documentation).
const OUT_ENV: &str = "LEAKWATCH_PRELOAD_OUT";
const TARGET_ENV: &str = "LEAKWATCH_PRELOAD_TARGET";
const SUPPRESSIONS_ENV: &str = "LEAKWATCH_PRELOAD_SUPPRESSIONS";

/// Said once per run: what the preload cannot follow.
const TASKS: &str = "leakwatch: tokio tasks are not followed one by one here (what a task opens is \
                     charged to the test whose runtime runs it); for a check per task, use \
                     #[leakwatch::test], or `RUSTFLAGS=\"--cfg tokio_unstable\"` with leakwatch's \
                     runtime hooks";

pub(crate) fn test(args: TestArgs) -> Result<ExitCode, String> {
    let rules = match &args.suppressions {
        Some(file) => suppressions(file)?,
        None => Vec::new(),
    };
    let target = target_dir(&args.args)?;
    let lib = preload::library(&target)?;
    let runner = runner(args.runner)?;
    let out = target
        .join("leakwatch")
        .join(format!("run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out)
        .map_err(|err| format!("cannot create {}: {err}", out.display()))?;

    let mut command = Command::new(cargo());
    match runner {
        Runner::Nextest => command.args(["nextest", "run"]),
        _ => command.arg("test"),
    };
    command.args(&args.args);
    // Each test binary is started through this command, as the target's
    // runner, which preloads the library for it alone (see `runner`).
    let me = std::env::current_exe()
        .map_err(|err| format!("cannot find cargo-leakwatch's own path: {err}"))?;
    for triple in runner::triples(&args.args)? {
        let variable = runner::variable(&triple);
        if let Some(theirs) = std::env::var_os(&variable) {
            command.env(runner::THEIRS_ENV, theirs);
        }
        command.env(variable, format!("{} leakwatch __preloaded", me.display()));
    }
    command
        .env(runner::LIB_ENV, &lib)
        .env(OUT_ENV, &out)
        .env(TARGET_ENV, &target);
    if let Some(file) = &args.suppressions {
        let file = std::path::absolute(file)
            .map_err(|err| format!("cannot resolve {}: {err}", file.display()))?;
        command.env(SUPPRESSIONS_ENV, file);
    }
    eprintln!(
        "cargo-leakwatch: `cargo {}{}` with every test checked for what it leaves open",
        if runner == Runner::Nextest {
            "nextest run"
        } else {
            "test"
        },
        args.args
            .iter()
            .map(|a| format!(" {a}"))
            .collect::<String>(),
    );
    eprintln!("{TASKS}");
    let status = command
        .status()
        .map_err(|err| format!("cannot run cargo: {err}"))?;

    let log = RunLog::read(&out)?;
    let summary = Summary::new(&log, &rules);
    for leak in &log.leaks {
        println!("leakwatch: {} {}:", leak.binary, leak.test);
        print!("{}", leak.text);
    }
    print!("{summary}");
    if let Some(file) = &args.json {
        let json = serde_json::to_string_pretty(&summary).expect("a summary is always valid JSON");
        write(file, &json)?;
    }
    if let Some(file) = &args.html {
        write(file, &crate::html::page(&summary, &log)?)?;
    }
    let _ = std::fs::remove_dir_all(&out);
    Ok(if !status.success() {
        println!("leakwatch: the test command failed ({status})");
        ExitCode::from(
            status
                .code()
                .and_then(|c| u8::try_from(c).ok())
                .unwrap_or(101),
        )
    } else if summary.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn write(file: &Path, text: &str) -> Result<(), String> {
    std::fs::write(file, text).map_err(|err| format!("cannot write {}: {err}", file.display()))
}

/// The rules of a suppressions file, each error naming the file and line.
fn suppressions(file: &Path) -> Result<Vec<Ignore>, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|err| format!("cannot read suppressions {}: {err}", file.display()))?;
    Ignore::parse_lines(&text).map_err(|(line, err)| format!("{}:{line}: {err}", file.display()))
}

/// The runner to use: cargo-nextest's when asked for or installed.
fn runner(asked: Runner) -> Result<Runner, String> {
    let installed = || {
        Command::new(cargo())
            .args(["nextest", "--version"])
            .output()
            .is_ok_and(|out| out.status.success())
    };
    match asked {
        Runner::Auto if installed() => Ok(Runner::Nextest),
        Runner::Auto => Ok(Runner::Cargo),
        Runner::Nextest if !installed() => Err(String::from(
            "--runner nextest: cargo-nextest is not installed (`cargo install cargo-nextest`)",
        )),
        asked => Ok(asked),
    }
}

/// The suite's target folder: `--target-dir` among the arguments, else
/// what `cargo metadata` says (which heeds `CARGO_TARGET_DIR` and
/// `.cargo/config.toml`).
fn target_dir(args: &[String]) -> Result<PathBuf, String> {
    let ours = args.iter().take_while(|a| *a != "--");
    let mut manifest = None;
    let mut it = ours.clone();
    while let Some(arg) = it.next() {
        if let Some(dir) = arg.strip_prefix("--target-dir=") {
            return absolute(Path::new(dir));
        }
        if arg == "--target-dir" {
            let dir = it.next().ok_or("--target-dir needs a folder")?;
            return absolute(Path::new(dir));
        }
        if let Some(path) = arg.strip_prefix("--manifest-path=") {
            manifest = Some(path.to_owned());
        } else if arg == "--manifest-path" {
            manifest = it.next().cloned();
        }
    }
    let mut command = Command::new(cargo());
    command.args(["metadata", "--format-version", "1", "--no-deps"]);
    if let Some(manifest) = manifest {
        command.arg("--manifest-path").arg(manifest);
    }
    let output = command
        .output()
        .map_err(|err| format!("cannot run cargo metadata: {err}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|err| format!("cargo metadata wrote no JSON: {err}"))?;
    metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| String::from("cargo metadata named no target_directory"))
}

fn absolute(path: &Path) -> Result<PathBuf, String> {
    std::path::absolute(path).map_err(|err| format!("cannot resolve {}: {err}", path.display()))
}
