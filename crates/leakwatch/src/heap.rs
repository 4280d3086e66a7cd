//! The heap's part in a failing check's verdict: the line of heap still
//! live that ends its report (a hunt judges heap round by round, in
//! [`hunting`](crate::hunting)).

use leakwatch_core::Scope;

/// `report` (a failing check's) with one line of information after it:
/// the heap still live that was allocated in `scope`, when the counting
/// allocator is installed and there is some. Heap alive at the end of a
/// test is not by itself a leak (a cache, a value kept on purpose), so the
/// line says so; only a hunt judges heap.
pub(crate) fn with_heap(mut report: String, scope: &Scope) -> String {
    if !crate::suite::suite().heap {
        return report;
    }
    if let Some(heap) = leakwatch_alloc::heap_in(&[scope.id()]).filter(|heap| heap.blocks > 0) {
        let (blocks, bytes) = (heap.blocks, heap.bytes);
        let (noun, verb) = if blocks == 1 {
            ("heap block", "is")
        } else {
            ("heap blocks", "are")
        };
        report.push_str(&format!(
            "\nLEAK leakwatch: info: {blocks} {noun} ({bytes} bytes) allocated in this scope {verb} \
             still live; heap alive at the end is not by itself a leak (a cache, a value kept on \
             purpose): #[leakwatch::test(hunt = \"3:5\")] judges heap by repetition"
        ));
    }
    report
}
