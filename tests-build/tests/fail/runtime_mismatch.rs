extern crate lw as leakwatch;

#[leakwatch::test(worker_threads = 2)]
async fn worker_threads_on_the_default_flavor() {}

#[leakwatch::test(flavor = "current_thread", worker_threads = 2)]
async fn worker_threads_on_current_thread() {}

#[leakwatch::test(flavor = "local", worker_threads = 2)]
async fn worker_threads_on_local() {}

#[leakwatch::test(flavor = "multi_thread", start_paused = true)]
async fn start_paused_on_multi_thread() {}

#[leakwatch::test(flavor = "multi_thread", unhandled_panic = "ignore")]
async fn unhandled_panic_on_multi_thread() {}

#[leakwatch::test(flavor = "multi_thread")]
fn flavor_on_a_sync_test() {}

#[leakwatch::test(name = "rt")]
fn name_on_a_sync_test() {}

fn main() {}
