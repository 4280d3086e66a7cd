//! Must-close tags: a transaction dropped without commit is reported as
//! "dropped without close" at the line that began it; committed, it is not.

use crate::support::{leaks, only_group};
use leakwatch::integration::Finding;
use leakwatch::{Scope, Tag};

/// A database transaction that must be committed or rolled back.
struct Transaction {
    tag: Tag,
}

impl Transaction {
    #[track_caller]
    fn begin(table: &str) -> Transaction {
        Transaction {
            tag: Tag::must_close_with_detail("db-txn", format_args!("on {table}")),
        }
    }

    fn commit(self) {
        self.tag.close();
    }
}

#[test]
fn transaction_dropped_without_commit_is_reported() {
    let scope = Scope::new("txn");
    let line = scope.run(|| {
        let (txn, line) = (Transaction::begin("users"), line!());
        drop(txn); // an early return, say
        line
    });
    let report = leaks(&scope);
    let group = only_group(&report, "db-txn", Finding::DroppedWithoutClose, line);
    assert_eq!(group.details(), ["on users"]);
    assert!(
        report
            .to_string()
            .contains("1 db-txn dropped without close, opened at")
    );
}

#[test]
fn committed_transaction_passes() {
    let scope = Scope::new("commit");
    scope.run(|| Transaction::begin("users").commit());
    scope.check_now().unwrap();
}

#[test]
fn open_transaction_is_still_open_not_dropped() {
    let scope = Scope::new("open-txn");
    let (txn, line) = scope.run(|| (Transaction::begin("orders"), line!()));
    only_group(&leaks(&scope), "db-txn", Finding::StillOpen, line);
    txn.commit();
    scope.check_now().unwrap();
}

#[test]
fn finding_of_a_dropped_child_scope_reaches_its_parent() {
    let parent = Scope::new("parent");
    let line = parent.run(|| {
        let child = Scope::new("child");
        child.run(|| {
            let (txn, line) = (Transaction::begin("audit"), line!());
            drop(txn);
            line
        })
        // `child` is dropped here, unchecked
    });
    only_group(
        &leaks(&parent),
        "db-txn",
        Finding::DroppedWithoutClose,
        line,
    );
}

#[test]
fn plain_tag_closes_on_drop() {
    let scope = Scope::new("plain");
    scope.run(|| drop(Tag::new("lock-file")));
    scope.check_now().unwrap();
}
