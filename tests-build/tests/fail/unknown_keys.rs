extern crate lw as leakwatch;

#[leakwatch::test(foo)]
fn a_bare_unknown_key() {}

#[leakwatch::test(foo = 123)]
fn an_unknown_key() {}

#[leakwatch::test(multi_thread)]
async fn a_flavor_without_its_key() {}

#[leakwatch::test(grace)]
fn a_key_without_a_value() {}

#[leakwatch::test(flavor("multi_thread"))]
async fn a_list() {}

#[leakwatch::test(runtime::flavor = "multi_thread")]
async fn a_path_key() {}

const GRACE: &str = "1s";

#[leakwatch::test(grace = GRACE)]
fn a_value_that_is_not_a_literal() {}

fn main() {}
