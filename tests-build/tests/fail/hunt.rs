extern crate lw as leakwatch;

#[leakwatch::test(hunt = "3")]
fn hunt_without_measured_rounds() {}

#[leakwatch::test(hunt = "a:5")]
fn hunt_warmup_not_a_number() {}

#[leakwatch::test(hunt = "3:0")]
fn hunt_no_measured_rounds() {}

#[leakwatch::test(hunt = "3:1")]
async fn hunt_one_measured_round() {}

#[leakwatch::test(hunt = 5)]
fn hunt_not_a_string() {}

#[leakwatch::test(hunt = "3:5", hunt = "1:2")]
fn hunt_twice() {}

#[leakwatch::test(hunt)]
fn hunt_without_a_value() {}

#[leakwatch::test(hunt = "3:5")]
#[should_panic]
fn hunt_of_a_should_panic_test() {
    panic!("expected");
}

fn main() {}
