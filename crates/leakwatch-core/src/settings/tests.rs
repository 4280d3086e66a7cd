use super::*;

fn error(text: &str) -> SettingsError {
    Settings::parse(text, FILE).unwrap_err()
}

#[test]
fn reads_every_key() {
    let text = "grace = \"1.5s\"\nignore = [\"crate:bb8\", \"fn:bb8::inner::Reaper::run\", \"kind:metrics\"]\n\n[detect]\nfds = false\nthreads = true\nchildren = false\ntasks = true\nheap = false\ncounted-tasks = \"off\"\n";
    let settings = Settings::parse(text, FILE).unwrap();
    assert_eq!(settings.file(), FILE);
    assert_eq!(settings.grace(), Some(Duration::from_millis(1500)));
    assert_eq!(
        settings.ignore(),
        [
            Ignore::Crate("bb8".into()),
            Ignore::Fn("bb8::inner::Reaper::run".into()),
            Ignore::Kind("metrics".into()),
        ]
    );
    assert_eq!(
        settings.switches(),
        Switches {
            fds: Some(false),
            threads: Some(true),
            children: Some(false),
            tasks: Some(true),
            heap: Some(false),
            counted_tasks: Some(CountedTasks::Off),
        }
    );
    assert_eq!(
        Settings::parse("# nothing\n", FILE).unwrap().switches(),
        Switches::default()
    );
}

#[test]
fn an_unknown_key_names_its_line_and_key() {
    let err = error("grace = \"1s\"\n\nignored = []\n");
    assert_eq!((err.line(), err.key()), (Some(3), Some("ignored")));
    assert_eq!(
        err.to_string(),
        ".config/leakwatch.toml, line 3, `ignored`: unknown key; expected one of `grace`, `ignore`, `detect`"
    );
    let err = error("[detect]\nfds = true\nsockets = false\n");
    assert_eq!((err.line(), err.key()), (Some(3), Some("detect.sockets")));
    assert!(
        err.to_string().contains("expected one of `fds`, `threads`"),
        "{err}"
    );
}

#[test]
fn a_malformed_rule_names_its_line_and_key() {
    let err = error("ignore = [\n  \"crate:bb8\",\n  \"module:bb8\",\n]\n");
    assert_eq!((err.line(), err.key()), (Some(3), Some("ignore")));
    assert!(
        err.to_string().contains("ignore=`module:bb8` is not valid"),
        "{err}"
    );
    let err = error("ignore = [\"crate:bb8, kind:task\"]");
    assert!(err.to_string().contains("is not one rule"), "{err}");
    let err = error("grace = \"soon\"");
    assert_eq!((err.line(), err.key()), (Some(1), Some("grace")));
    let err = error("detect.counted-tasks = \"maybe\"");
    assert_eq!(err.key(), Some("detect.counted-tasks"));
    assert!(
        err.to_string()
            .ends_with("`maybe` is not one of `fail`, `warn`, `off`"),
        "{err}"
    );
}

#[test]
fn a_wrong_type_names_its_line_and_key() {
    for (text, line, key, found) in [
        ("ignore = \"crate:bb8\"", 1, "ignore", "a string"),
        ("ignore = [1]", 1, "ignore", "an integer"),
        ("\ngrace = 300", 2, "grace", "an integer"),
        ("[detect]\nfds = \"no\"", 2, "detect.fds", "a string"),
        ("detect = true", 1, "detect", "a boolean"),
    ] {
        let err = error(text);
        assert_eq!((err.line(), err.key()), (Some(line), Some(key)), "{text}");
        assert!(err.to_string().contains(&format!("found {found}")), "{err}");
    }
}

#[test]
fn text_that_is_not_toml_names_its_line() {
    let err = error("grace = \"1s\"\nignore = [\"kind:task\"\n");
    assert_eq!(err.line(), Some(2));
    assert_eq!(err.key(), None);
    assert!(
        err.to_string()
            .starts_with(".config/leakwatch.toml, line 2: not valid TOML: "),
        "{err}"
    );
}

#[test]
fn an_unreadable_file_is_an_error() {
    let dir = std::env::temp_dir().join(format!("leakwatch-unreadable-{}", std::process::id()));
    std::fs::create_dir_all(dir.join(FILE)).unwrap();
    let (path, shown) = Settings::find(&dir).expect("a folder in the file's place is found");
    let err = Settings::read(&path, &shown).unwrap_err();
    assert_eq!((err.file(), err.line(), err.key()), (FILE, None, None));
    assert!(
        err.to_string()
            .starts_with(".config/leakwatch.toml: cannot be read: "),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_package_file_comes_before_the_workspace_file() {
    let root = std::env::temp_dir().join(format!("leakwatch-find-{}", std::process::id()));
    let package = root.join("crates/app");
    std::fs::create_dir_all(package.join(".config")).unwrap();
    std::fs::create_dir_all(root.join(".config")).unwrap();
    std::fs::write(
        root.join("Cargo.toml"),
        "[workspace]\nmembers = [\"crates/app\"]\n",
    )
    .unwrap();
    std::fs::write(package.join("Cargo.toml"), "[package]\nname = \"app\"\n").unwrap();
    assert_eq!(Settings::find(&package), None);
    std::fs::write(root.join(FILE), "").unwrap();
    assert_eq!(
        Settings::find(&package),
        Some((root.join(FILE), FILE.to_owned()))
    );
    std::fs::write(package.join(FILE), "").unwrap();
    assert_eq!(
        Settings::find(&package),
        Some((package.join(FILE), format!("crates/app/{FILE}")))
    );
    std::fs::remove_dir_all(&root).unwrap();
}
