use std::hint::black_box;
fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let scope = leakwatch::Scope::new("loop");
    let _g = (mode == "scope").then(|| scope.enter());
    for _ in 0..1_000_000 {
        drop(black_box(leakwatch::Tag::new("bench")));
    }
}
