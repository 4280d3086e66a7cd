//! Each of `#[leakwatch::test]`'s errors, with its message and span: a
//! change to one shows in the `.stderr` files under `tests/fail/`.
//!
//! The messages are rustc's rendering, so the files are pinned to the
//! workspace's toolchain (`rust-version`); regenerate them with
//! `TRYBUILD=overwrite cargo test -p tests-build --test ui` after an upgrade.

#[test]
fn attribute_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/fail/*.rs");
}
