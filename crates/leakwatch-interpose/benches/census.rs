//! A census of a process with 1,000 open descriptors (files, TCP and UDP
//! sockets, pipes), socket addresses resolved. Target: at most 5 ms.
//!
//! `cargo bench -p leakwatch-interpose --bench census`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

#[cfg(target_os = "linux")]
fn census(c: &mut Criterion) {
    raise_fd_limit(4096);
    let mut kept: Vec<Box<dyn std::any::Any>> = Vec::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    for _ in 0..150 {
        let client = std::net::TcpStream::connect(addr).unwrap();
        let (server, _) = listener.accept().unwrap();
        kept.push(Box::new((client, server)));
    }
    for _ in 0..100 {
        kept.push(Box::new(std::net::UdpSocket::bind("127.0.0.1:0").unwrap()));
    }
    for _ in 0..100 {
        kept.push(Box::new(std::io::pipe().unwrap()));
    }
    kept.push(Box::new(listener));
    let have = leakwatch_interpose::Census::take().unwrap().len();
    for _ in have..1000 {
        kept.push(Box::new(std::fs::File::open("Cargo.toml").unwrap()));
    }
    let census = leakwatch_interpose::Census::take().unwrap();
    assert!(census.len() >= 1000, "{}", census.len());
    let tcp = census
        .iter()
        .filter(|(_, k)| matches!(k, leakwatch_interpose::FdKind::Tcp { .. }))
        .count();
    assert_eq!(tcp, 301, "every TCP socket resolved to its addresses");
    c.bench_function("census of 1000 descriptors", |b| {
        b.iter(|| black_box(leakwatch_interpose::Census::take().unwrap()))
    });
    // On a shared machine preemption inflates the mean; the median and the
    // fastest run show the cost itself.
    let mut runs: Vec<_> = (0..200)
        .map(|_| {
            let start = std::time::Instant::now();
            black_box(leakwatch_interpose::Census::take().unwrap());
            start.elapsed()
        })
        .collect();
    runs.sort();
    eprintln!(
        "census of {} descriptors: fastest {:?}, median {:?} over {} runs",
        census.len(),
        runs[0],
        runs[runs.len() / 2],
        runs.len()
    );
    // The clean check's question, with the 1,000 descriptors open outside
    // the scope.
    let clean = leakwatch_core::Scope::new("clean");
    c.bench_function("counts_in of a clean scope, 1000 descriptors open", |b| {
        b.iter(|| black_box(leakwatch_interpose::counts_in(&[clean.id()])))
    });
    drop(kept);
}

#[cfg(target_os = "linux")]
fn raise_fd_limit(want: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: reads and sets this process's own limit through a local.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max.min(want.max(lim.rlim_cur));
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
}

#[cfg(not(target_os = "linux"))]
fn census(_: &mut Criterion) {}

criterion_group!(benches, census);
criterion_main!(benches);
