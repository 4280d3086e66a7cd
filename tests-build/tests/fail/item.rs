extern crate lw as leakwatch;

#[leakwatch::test]
#[test]
fn a_second_test_attribute() {}

#[leakwatch::test]
#[core::prelude::v1::test]
async fn a_second_test_attribute_by_its_path() {}

#[leakwatch::test]
fn arguments(n: u32) {
    let _ = n;
}

#[leakwatch::test]
struct NotAFunction;

fn main() {}
