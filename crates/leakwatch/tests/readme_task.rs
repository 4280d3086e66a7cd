//! The README's task example, kept honest: it must fail with the README's
//! report. Ignored, it is run by the test below (or by `-- --ignored`).

#![cfg(feature = "tokio")]

#[leakwatch::test(grace = "50ms")]
#[ignore = "fails on purpose: run by `the_readme_example_fails_with_its_report`"]
async fn consumer_stops_when_the_channel_closes() {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(8);
    let consumer = async move { while let Some(_job) = rx.recv().await {} };
    leakwatch::tokio::Builder::new()
        .name("consumer")
        .spawn(consumer)
        .unwrap();
    tx.send(1).await.unwrap();
    // `tx` is never dropped, so the consumer never ends.
    std::mem::forget(tx);
}

mod support;

#[test]
fn the_readme_example_fails_with_its_report() {
    support::child::fails_with(
        module_path!(),
        file!(),
        "consumer_stops_when_the_channel_closes",
        "1 task still open, spawned at crates/leakwatch/tests/readme_task.rs:13:10",
    );
}
