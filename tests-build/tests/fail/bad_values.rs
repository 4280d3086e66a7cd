extern crate lw as leakwatch;

#[leakwatch::test(flavor = 123)]
async fn flavor_not_a_string() {}

#[leakwatch::test(flavor = "fast")]
async fn unknown_flavor() {}

#[leakwatch::test(flavor = "single_thread")]
async fn single_thread_flavor() {}

#[leakwatch::test(flavor = "multi_thread", worker_threads = "2")]
async fn worker_threads_not_a_number() {}

#[leakwatch::test(flavor = "multi_thread", worker_threads = 0)]
async fn no_worker_threads() {}

#[leakwatch::test(start_paused = "yes")]
async fn start_paused_not_a_bool() {}

#[leakwatch::test(unhandled_panic = "abort")]
async fn unknown_unhandled_panic() {}

#[leakwatch::test(name = " ")]
async fn empty_name() {}

#[leakwatch::test(crate = 456)]
fn crate_not_a_string() {}

#[leakwatch::test(crate = "456")]
fn crate_not_a_path() {}

#[leakwatch::test(grace = "soon")]
fn grace_not_a_duration() {}

#[leakwatch::test(grace = 50)]
fn grace_not_a_string() {}

#[leakwatch::test(ignore = "func:main")]
fn ignore_rule_unknown() {}

#[leakwatch::test(ignore = "kind:task, task")]
fn ignore_rule_without_a_prefix() {}

#[leakwatch::test(fds = "no")]
fn fds_not_a_bool() {}

#[leakwatch::test(threads = 0)]
fn threads_not_a_bool() {}

#[leakwatch::test(children)]
fn children_without_a_value() {}

fn main() {}
