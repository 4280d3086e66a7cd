//! Isolation: many scopes at once in one process, some leaky, some clean.
//! Exactly the leaky ones fail, each listing only its own items.

use std::sync::{Arc, Barrier, Mutex};

use leakwatch::{Scope, Tag, Tracked};

const SCOPES: usize = 16;

#[test]
fn parallel_scopes_see_only_their_own_items() {
    let barrier = Arc::new(Barrier::new(SCOPES));
    let parked: Arc<Mutex<Vec<Tag>>> = Arc::default();
    let threads: Vec<_> = (0..SCOPES)
        .map(|i| {
            let barrier = barrier.clone();
            let parked = parked.clone();
            std::thread::spawn(move || {
                let scope = Scope::new(format!("scope-{i}"));
                barrier.wait();
                scope.run(|| {
                    for round in 0..50 {
                        // Every scope opens and closes plenty.
                        drop(Tracked::new(round, "noise"));
                    }
                    if i % 3 == 0 {
                        // Leaky scopes leave i + 1 items open, named after them.
                        for n in 0..=i {
                            let tag = Tag::with_detail("conn", format_args!("scope-{i}/conn-{n}"));
                            parked.lock().unwrap().push(tag);
                        }
                    }
                });
                barrier.wait(); // every scope has done its work before any check
                (i, scope.check_now())
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();

    for (i, result) in results {
        if i % 3 == 0 {
            let report = result.expect_err("leaky scope passed");
            assert_eq!(report.total(), i + 1, "{report}");
            assert_eq!(report.scope_name(), format!("scope-{i}"));
            let group = &report.groups()[0];
            assert_eq!(group.kind(), "conn");
            for detail in group.details() {
                assert!(detail.starts_with(&format!("scope-{i}/")), "{report}");
            }
        } else {
            result.unwrap();
        }
    }
}

#[test]
fn nested_scopes_report_to_their_parent_too() {
    let outer = Scope::new("outer");
    let inner = outer.run(|| Scope::new("inner"));
    let sibling = Scope::new("sibling");
    let tag = inner.run(|| Tag::new("file"));
    assert_eq!(inner.check_now().unwrap_err().total(), 1);
    assert_eq!(outer.check_now().unwrap_err().total(), 1);
    sibling.check_now().unwrap();
    drop(tag);
    outer.check_now().unwrap();
}

#[test]
fn items_outside_every_scope_are_seen_by_none() {
    let scope = Scope::new("bystander");
    let outside = Tag::new("file");
    scope.check_now().unwrap();
    assert!(
        leakwatch::integration::Snapshot::all()
            .items()
            .iter()
            .any(|i| i.kind() == "file")
    );
    drop(outside);
}
