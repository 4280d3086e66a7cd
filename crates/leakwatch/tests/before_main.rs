//! Nothing of leakwatch runs before `main`: the process has one thread
//! when `main` starts (a thread started from `.init_array` would break
//! `unshare(CLONE_NEWUSER)` and signal masks set in `main`), and yet the
//! first check, a plain `Scope::check_now`, already sees what code outside
//! leakwatch's wrappers opened. A binary of its own (`harness = false`), so
//! that no test harness thread runs before the count.

fn main() {
    #[cfg(target_os = "linux")]
    {
        let threads = std::fs::read_dir("/proc/self/task").unwrap().count();
        assert_eq!(threads, 1, "threads running when main starts");
    }
    let scope = leakwatch::Scope::new("main");
    let file = scope.run(|| std::fs::File::open("Cargo.toml").unwrap());
    if leakwatch::integration::support() == leakwatch::integration::Support::Active {
        let report = scope.check_now().expect_err("the file is open");
        assert!(report.to_string().contains("Cargo.toml"), "{report}");
    }
    drop(file);
    assert!(scope.check_now().is_ok());
    println!("before_main: ok");
}
