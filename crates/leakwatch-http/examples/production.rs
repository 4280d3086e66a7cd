//! A service's `main` with leakwatch kept on in its release build: the
//! long-held watchdog counting into the metrics, and the routes on a side
//! port on loopback, next to the service's own port.
//!
//! ```text
//! cargo run -p leakwatch-http --release --features production --example production
//! curl http://127.0.0.1:6060/debug/leaks
//! ```

use std::io::Write as _;

use leakwatch::watchdog::Thresholds;
use leakwatch_export::metrics::LeakMetrics;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The watchdog's warnings are `tracing` events.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();

    // Counts every item held past its kind's threshold
    // (LEAKWATCH_HELD=db-conn=30s,tcp=5m) into the served metrics.
    let metrics = LeakMetrics::new();
    let _watchdog = leakwatch::watchdog::start_with(Thresholds::from_env()?, {
        let metrics = metrics.clone();
        move |item| metrics.record_long_held(item.kind())
    });

    // Loopback only: /debug/leaks shows paths, addresses and command lines.
    let leaks = leakwatch_http::Endpoint::new("orders")
        .metrics(metrics)
        .serve("127.0.0.1:6060")?;
    eprintln!("leakwatch: http://{}/debug/leaks", leaks.local_addr());

    // The service itself; each connection is a live item while it is open.
    let listener = leakwatch::net::TcpListener::bind("127.0.0.1:8080")?;
    for stream in listener.incoming() {
        stream?.write_all(b"ok\n")?;
    }
    Ok(())
}
