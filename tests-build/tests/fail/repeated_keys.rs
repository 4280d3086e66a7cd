extern crate lw as leakwatch;

#[leakwatch::test(flavor = "multi_thread", flavor = "current_thread")]
async fn flavor_twice() {}

#[leakwatch::test(flavor = "multi_thread", worker_threads = 2, worker_threads = 4)]
async fn worker_threads_twice() {}

#[leakwatch::test(grace = "1s", grace = "2s")]
fn grace_twice() {}

#[leakwatch::test(ignore = "kind:task", ignore = "kind:thread")]
fn ignore_twice() {}

#[leakwatch::test(start_paused = true, start_paused = false)]
async fn start_paused_twice() {}

#[leakwatch::test(crate = "leakwatch", crate = "leakwatch")]
fn crate_twice() {}

#[leakwatch::test(fds = false, fds = true)]
fn fds_twice() {}

fn main() {}
