//! The task example in the README, kept honest: it must fail with the
//! report the README shows.

#![cfg(feature = "tokio")]

#[leakwatch::test(grace = "50ms")]
#[should_panic(expected = "1 task still open, spawned at crates/leakwatch/tests/readme_task.rs:")]
async fn consumer_stops_when_the_channel_closes() {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(8);
    let consumer = async move { while let Some(_job) = rx.recv().await {} };
    leakwatch::tokio::Builder::new()
        .name("consumer")
        .spawn(consumer);
    tx.send(1).await.unwrap();
    // `tx` is never dropped, so the consumer never ends.
    std::mem::forget(tx);
}
