//! A program that tags a resource of its own, as a library depending on
//! leakwatch without default features does: `tests/hooks.rs` checks that
//! its executable defines none of libc's interposed functions.

fn main() {
    let tag = leakwatch::Tag::new("db-conn");
    let file = std::fs::File::open("/dev/null").expect("/dev/null opens");
    drop((tag, file));
    match leakwatch::integration::support() {
        leakwatch::integration::Support::Active => println!("interposed"),
        leakwatch::integration::Support::Unavailable(why) => println!("not interposed: {why}"),
    }
}
