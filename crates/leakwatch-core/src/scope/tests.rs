use std::time::Instant;

use super::*;
use crate::Tag;

#[test]
fn check_within_waits_only_while_waiting_can_help() {
    // Clean: at once, however long the grace.
    let clean = Scope::new("clean");
    let started = Instant::now();
    clean.check_within(Duration::from_secs(30)).unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));

    // Still open: waits the whole grace, then reports.
    let leaky = Scope::new("leaky");
    let tag = leaky.run(|| Tag::new("socket"));
    let started = Instant::now();
    let report = leaky.check_within(Duration::from_millis(120)).unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(120));
    assert_eq!(report.total(), 1);
    drop(tag);

    // Dropped without close: waiting cannot fix it, so at once.
    let dropped = Scope::new("dropped");
    dropped.run(|| drop(Tag::must_close("db-txn")));
    let started = Instant::now();
    dropped.check_within(Duration::from_secs(30)).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn check_waits_through_the_configured_grace() {
    let leaky = Scope::new("leaky");
    let tag = leaky.run(|| Tag::new("socket"));
    let started = Instant::now();
    assert_eq!(leaky.check().unwrap_err().total(), 1);
    assert!(started.elapsed() >= crate::settings::grace());
    assert_eq!(leaky.check_now().unwrap_err().total(), 1);
    drop(tag);
    assert!(leaky.check().is_ok());
}

#[test]
fn open_count_agrees_with_reports() {
    let scope = Scope::new("with-rules").ignoring([Ignore::Detail("reaper".into())]);
    let kept = scope.run(|| {
        let reaper = Tag::with_detail("task", "'reaper'");
        (reaper, Tag::new("task"), Tag::new("task"), Tag::new("file"))
    });
    let report = scope.check_now().unwrap_err();
    assert_eq!(report.total(), 3);
    assert_eq!(
        scope.open_count("task") + scope.open_count("file"),
        report.total()
    );
    assert_eq!(scope.open_count("task"), 2);
    assert_eq!(scope.open_count_including_ignored("task"), 3);
    drop(kept);
    assert_eq!(scope.open_count("task"), 0);
}

#[test]
fn check_within_passes_once_closing_work_finishes() {
    let scope = Scope::new("closing");
    let tags: Vec<_> = scope.run(|| (0..3).map(|_| Tag::new("socket")).collect());
    let closer = std::thread::spawn(move || {
        for tag in tags {
            std::thread::sleep(Duration::from_millis(15));
            drop(tag);
        }
    });
    scope.check_within(Duration::from_secs(30)).unwrap();
    closer.join().unwrap();
}

#[test]
fn dropped_scopes_are_forgotten_unless_items_refer_to_them() {
    let parent = Scope::new("parent");
    let kept = parent.run(|| {
        let leaky = Scope::new("leaky-child");
        let tag = leaky.run(|| Tag::new("file"));
        for i in 0..200 {
            drop(Scope::new(format!("clean-{i}")));
        }
        tag
    });
    // The leaky child was kept, so its parent still sees its item.
    assert_eq!(parent.check_now().unwrap_err().total(), 1);
    drop(kept);
    assert!(parent.check_now().is_ok());
}

#[test]
fn live_scopes_stay_visible_to_ancestors_when_a_scope_between_is_dropped() {
    let grandparent = Scope::new("grandparent");
    let child = grandparent.run(|| {
        let parent = Scope::new("parent");
        parent.run(|| Scope::new("child"))
    });
    for i in 0..300 {
        drop(Scope::new(format!("churn-{i}")));
    }
    let tag = child.run(|| Tag::new("file"));
    assert_eq!(grandparent.check_now().unwrap_err().total(), 1);
    drop(tag);
    assert!(grandparent.check_now().is_ok());
}

#[test]
fn clean_checks_ignore_other_scopes_items() {
    let busy = Scope::new("busy");
    let tags: Vec<_> = busy.run(|| (0..1000).map(|_| Tag::new("task")).collect());
    let quiet = Scope::new("quiet");
    assert!(quiet.snapshot().is_empty());
    assert!(quiet.check_now().is_ok());
    assert_eq!(busy.snapshot().len(), 1000);
    assert_eq!(busy.open_count("task"), 1000);
    drop(tags);
    assert!(busy.check_now().is_ok());
}

/// A relay across threads: each one opens the next item in its own
/// shard, then closes the item it was handed (in another shard). Always
/// one is open, so no look may find the scope empty, though a single
/// pass over the shards could read the new item's shard before it was
/// opened and the old one's after it was closed.
#[test]
fn items_handed_between_threads_are_never_missed() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc;

    let scope = Scope::new("relay");
    let id = scope.id();
    let first = scope.run(|| Tag::new("baton"));
    let stop = Arc::new(AtomicBool::new(false));
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..3).map(|_| mpsc::channel::<Tag>()).unzip();
    let runners: Vec<_> = receivers
        .into_iter()
        .enumerate()
        .map(|(i, rx)| {
            let next = senders[(i + 1) % 3].clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let _in_scope = id.enter();
                // Ends when the baton stops here, or the thread before
                // this one ended.
                while let Ok(baton) = rx.recv() {
                    let fresh = Tag::new("baton");
                    drop(baton);
                    if stop.load(Ordering::Relaxed) {
                        return Some(fresh);
                    }
                    next.send(fresh).unwrap();
                }
                None
            })
        })
        .collect();
    senders[0].send(first).unwrap();
    drop(senders);
    for _ in 0..3000 {
        assert!(!scope.snapshot().is_empty(), "a look found nothing open");
    }
    stop.store(true, Ordering::Relaxed);
    let held: Vec<Option<Tag>> = runners.into_iter().map(|r| r.join().unwrap()).collect();
    assert_eq!(held.iter().flatten().count(), 1);
    drop(held);
    assert!(scope.check_now().is_ok());
}

#[test]
fn guards_restore_the_previous_scope() {
    let a = Scope::new("a");
    let b = Scope::new("b");
    let _a = a.enter();
    {
        let _b = b.enter();
        assert_eq!(ScopeId::current(), b.id());
    }
    assert_eq!(ScopeId::current(), a.id());
}
