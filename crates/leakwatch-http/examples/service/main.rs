//! A service that leaks one connection in a hundred, driven by a bounded
//! load generator, with leakwatch's routes mounted.
//!
//! ```text
//! cargo run -p leakwatch-http --example service -- [REQUESTS] [--hold SECONDS]
//! ```
//!
//! Sends REQUESTS orders (default 1000) over loopback, prints the report
//! and the addresses to read; with `--hold` it then keeps serving for that
//! many seconds, for `curl`, `go tool pprof` and `leakwatch top`.
//!
//! The long-held watchdog runs with `LEAKWATCH_HELD` (`db-conn=1s` when it
//! is not set): its warnings go to stderr and count into
//! `leakwatch_long_held_total` at `/debug/leaks/metrics`.
//!
//! `GET /keep` opens a plain `std::fs::File` and `std::net::TcpStream` and
//! keeps them; where libc is interposed (debug builds, or `--features
//! production`) they show as `fd` items at the handler's lines, and
//! `LEAKWATCH_HELD=db-conn=1s,fd=5s` has the watchdog warn about them.

mod app;

use std::process::ExitCode;

use leakwatch::watchdog::Thresholds;
use leakwatch_export::metrics::LeakMetrics;

fn main() -> ExitCode {
    // The whole service runs inside this scope: the runtime's threads start
    // in it and stay in it, so every descriptor they or `main` open is
    // recorded with the scope; one opened in a scope has its stack taken (in
    // debug builds, and in release builds at `LEAKWATCH=stacks`), which is
    // how a plain `std::fs::File` in a handler is named by its line.
    leakwatch_core::Scope::new("checkout").run(|| match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(serve()),
        Err(e) => {
            eprintln!("service: cannot start a tokio runtime: {e}");
            ExitCode::FAILURE
        }
    })
}

async fn serve() -> ExitCode {
    let mut requests = 1000;
    let mut hold = 0;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let parsed = match arg.as_str() {
            "--hold" => args.next().and_then(|s| s.parse().ok()).map(|s| hold = s),
            n => n.parse().ok().map(|n| requests = n),
        };
        if parsed.is_none() {
            eprintln!("service: usage: service [REQUESTS] [--hold SECONDS], got {arg:?}");
            return ExitCode::FAILURE;
        }
    }
    let thresholds = match std::env::var_os("LEAKWATCH_HELD") {
        None => "db-conn=1s".parse(),
        Some(_) => Thresholds::from_env(),
    };
    let thresholds = match thresholds {
        Ok(thresholds) => thresholds,
        Err(e) => {
            eprintln!("service: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let metrics = LeakMetrics::new();
    let _watchdog = app::watchdog(thresholds, &metrics);
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("service: cannot listen on 127.0.0.1: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    let server = tokio::spawn(async move { axum::serve(listener, app::app(metrics)).await });
    let base = format!("http://{addr}");
    if let Err(e) = app::load(&base, requests, 8).await {
        eprintln!("service: load: {e}");
        return ExitCode::FAILURE;
    }
    println!("{requests} orders sent.\n");
    print!(
        "{}",
        leakwatch_core::Report::new("checkout", &leakwatch_core::Snapshot::all())
    );
    println!(
        "\n{base}/debug/leaks\n{base}/debug/leaks/pprof\n{base}/debug/leaks/json\n{base}/debug/leaks/metrics\n{base}/keep"
    );
    if hold > 0 {
        println!("serving for {hold}s");
        let held = tokio::time::timeout(std::time::Duration::from_secs(hold), server).await;
        if let Ok(Ok(Err(e))) = held {
            eprintln!("service: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
