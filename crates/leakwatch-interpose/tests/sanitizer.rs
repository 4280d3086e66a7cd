//! With a sanitizer runtime in the process, the hooks stand aside: every
//! call goes to the runtime's interceptor (not around it to libc), nothing
//! is recorded, and `support()` says why. A sanitizer needs a nightly
//! compiler, so the test stands one in: a shared library, built here with
//! the C compiler, that defines the sanitizers' common
//! `__sanitizer_print_stack_trace` and an `__interceptor_open64` that
//! counts its calls, preloaded into a run of this binary.
#![cfg(all(leakwatch_hooks, debug_assertions))]

use std::process::Command;

use tests_support::child::Rerun;

const SHIM: &str = r#"
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>

static int intercepted;

void __sanitizer_print_stack_trace(void) {}

int __interceptor_open64(const char *path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    int mode = va_arg(ap, int);
    va_end(ap);
    intercepted++;
    int (*real)(const char *, int, ...) = dlsym(RTLD_NEXT, "open64");
    return real(path, flags, mode);
}

int leakwatch_test_intercepted(void) { return intercepted; }
"#;

const CHILD: &str = "LEAKWATCH_TEST_SANITIZER_CHILD";

#[test]
fn with_a_sanitizer_runtime_the_hooks_call_its_interceptors_and_record_nothing() {
    let dir = tests_support::temp::temp_dir("sanitizer");
    let (source, shim) = (dir.join("shim.c"), dir.join("libshim.so"));
    std::fs::write(&source, SHIM).unwrap();
    let built = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&shim)
        .arg(&source)
        .arg("-ldl")
        .status()
        .expect("a C compiler (cc) runs");
    assert!(built.success());
    let run = Rerun::ignored(module_path!(), "child")
        .env("LD_PRELOAD", &shim)
        .env(CHILD, "1")
        .run();
    std::fs::remove_dir_all(&dir).unwrap();
    let text = run.output;
    assert!(run.passed, "{text}");
    assert!(text.contains("1 passed"), "{text}");
}

/// Run by the test above, in a process with the stand-in runtime.
#[test]
#[ignore = "run by with_a_sanitizer_runtime_the_hooks_call_its_interceptors_and_record_nothing"]
fn child() {
    assert!(
        std::env::var_os(CHILD).is_some(),
        "run only by the test above"
    );
    let why = match leakwatch_interpose::support() {
        leakwatch_interpose::Support::Unavailable(why) => why,
        leakwatch_interpose::Support::Active => panic!("active beside a sanitizer"),
    };
    assert!(why.contains("sanitizer runtime"), "{why}");
    let scope = leakwatch_core::Scope::new("sanitized");
    let file = scope.run(|| std::fs::File::open("Cargo.toml").unwrap());
    assert!(leakwatch_interpose::open_in(&[scope.id()]).is_empty());
    drop(file);
    // SAFETY: looks up the stand-in's counter by a static NUL-terminated name.
    let counter =
        unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"leakwatch_test_intercepted".as_ptr()) };
    assert!(!counter.is_null());
    // SAFETY: the stand-in defines it as `int (void)`.
    let intercepted: extern "C" fn() -> i32 = unsafe { std::mem::transmute(counter) };
    assert!(intercepted() > 0, "open64 went around the interceptor");
}
