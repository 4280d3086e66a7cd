//! Drop-in: everyday `std` and `tokio` code compiles unchanged, and behaves
//! the same, when its imports name leakwatch's wrappers instead.
//!
//! Each idiom file is written against std and tokio, and included twice:
//! once under std's and tokio's names, once under leakwatch's. Only the
//! `use` lines of the two modules differ, so a wrapper whose signature
//! strays from the item it replaces (a bound, an argument type, a receiver,
//! a return type) breaks the build of `with_leakwatch`, and a wrapper that
//! behaves differently fails its test there.
//!
//! leakwatch's modules hold only the wrappers, so the idioms reach what
//! they do not wrap (`std::thread::sleep`, `tokio::task::LocalSet`) by its
//! full path.

mod with_std {
    use std::fs::{File, OpenOptions};
    use std::net::{TcpListener, TcpStream, UdpSocket};
    use std::thread;

    include!("drop_in/idioms.rs");

    #[cfg(feature = "tokio")]
    mod tasks {
        use tokio::task;

        include!("drop_in/tasks.rs");
    }
}

mod with_leakwatch {
    use leakwatch::fs::{File, OpenOptions};
    use leakwatch::net::{TcpListener, TcpStream, UdpSocket};
    use leakwatch::thread;

    include!("drop_in/idioms.rs");

    #[cfg(feature = "tokio")]
    mod tasks {
        use leakwatch::tokio as task;

        include!("drop_in/tasks.rs");
    }
}
