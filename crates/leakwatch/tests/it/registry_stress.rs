//! Several threads opening and closing at once: counts stay exact.

use std::sync::Barrier;

use leakwatch::{Scope, Tag};

#[test]
fn counts_stay_exact_under_contention() {
    const THREADS: usize = 8;
    const ROUNDS: usize = 5_000;
    let scope = Scope::new("stress");
    let barrier = Barrier::new(THREADS);
    let id = scope.id();
    let kept: Vec<Tag> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    let _in = id.enter();
                    barrier.wait();
                    let mut kept = Vec::new();
                    let mut window = Vec::new();
                    for i in 0..ROUNDS {
                        window.push(Tag::new("stress"));
                        if window.len() > 16 {
                            // Drop some in a different order than opened.
                            window.swap_remove(i % window.len());
                        }
                        if (i + t) % 100 == 0 {
                            kept.push(Tag::new("stress-kept"));
                        }
                    }
                    kept
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let report = scope.check_now().unwrap_err();
    assert_eq!(report.total(), kept.len(), "{report}");
    assert_eq!(report.groups().len(), 1, "{report}");
    assert_eq!(report.groups()[0].kind(), "stress-kept");
    // Closing them on another thread than the one that opened them.
    std::thread::spawn(move || drop(kept)).join().unwrap();
    scope.check_now().unwrap();
}
