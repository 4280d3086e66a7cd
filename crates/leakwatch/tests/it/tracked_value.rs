//! `Tracked<T>` around a user's own value.

use crate::support::{leaks, only_group};
use leakwatch::integration::Finding;
use leakwatch::{Scope, Tag, Tracked};

struct PoolConn {
    id: u32,
}

#[test]
fn connection_never_returned_to_the_pool_is_reported() {
    let scope = Scope::new("pool");
    let line = scope.run(|| {
        let pooled = PoolConn { id: 7 };
        let (conn, line) = (Tracked::with_detail(pooled, "db-conn", "conn #7"), line!());
        assert_eq!(conn.id, 7); // Deref
        std::mem::forget(conn);
        line
    });
    let report = leaks(&scope);
    let group = only_group(&report, "db-conn", Finding::StillOpen, line);
    assert_eq!(group.details(), ["conn #7"]);
}

#[test]
fn unwrapped_and_dropped_values_pass() {
    let scope = Scope::new("unwrapped");
    let conn = scope.run(|| {
        drop(Tracked::new(PoolConn { id: 1 }, "db-conn"));
        Tracked::new(PoolConn { id: 2 }, "db-conn").into_inner()
    });
    scope.check_now().unwrap();
    assert_eq!(conn.id, 2);
}

#[test]
fn must_close_value_through_parts() {
    let scope = Scope::new("parts");
    let line = scope.run(|| {
        let (value, line) = (Tracked::from_parts(5, Tag::must_close("flush")), line!());
        drop(value);
        line
    });
    only_group(&leaks(&scope), "flush", Finding::DroppedWithoutClose, line);

    let clean = Scope::new("parts-clean");
    clean.run(|| {
        let (_value, tag) = Tracked::from_parts(5, Tag::must_close("flush")).into_parts();
        tag.close();
    });
    clean.check_now().unwrap();
}
