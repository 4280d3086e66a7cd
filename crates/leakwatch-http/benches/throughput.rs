//! Throughput of the example service (its routes, its tracked pool and its
//! long-held watchdog, on a runtime started inside a scope, as
//! `examples/service` runs them) at `LEAKWATCH=sites` against `off`, on
//! 127.0.0.1, driven by the example's bounded load generator. libc is
//! interposed (`production` turns leakwatch's hooks on for the benches):
//! at `sites` every socket, accept and thread is recorded, at `off` each
//! hook is a plain call to libc.
//!
//! ```text
//! cargo bench -p leakwatch-http --bench throughput --features production \
//!     [-- --rounds 200 --requests 5000 --concurrency 8]
//! ```
//!
//! One process, one server: each round runs the same fixed number of
//! requests once at each level, switched with `leakwatch_core::set_level`
//! while the service runs, in alternating order (off first in even rounds,
//! sites first in odd ones) so that drift on a shared machine falls on both
//! alike. It prints each run's requests/s, each level's median, and the
//! median of the rounds' sites/off ratios with its 95% interval, the figure
//! to hold against the target (within 3%). Many short rounds rather than a
//! few long ones: one run's throughput on a shared machine varies by tens
//! of percent, and the interval narrows with the square root of the number
//! of rounds. Run it on a quiet machine.

#[path = "../examples/service/app.rs"]
mod app;

use std::process::ExitCode;
use std::time::Instant;

use leakwatch_core::Level;
use leakwatch_export::metrics::LeakMetrics;

/// How the runs are sized.
#[derive(Debug)]
struct Plan {
    rounds: u32,
    requests: u64,
    concurrency: u64,
}

impl Plan {
    /// Reads `--rounds`, `--requests` and `--concurrency`; ignores the
    /// `--bench` cargo passes.
    fn from_args(args: impl IntoIterator<Item = String>) -> Result<Plan, String> {
        let mut plan = Plan {
            rounds: 200,
            requests: 5_000,
            concurrency: 8,
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if arg == "--bench" {
                continue;
            }
            let value = args
                .next()
                .ok_or_else(|| format!("`{arg}` needs a value"))?;
            let number = |what: &str| -> Result<u64, String> {
                match value.parse::<u64>() {
                    Ok(n) if n > 0 => Ok(n),
                    _ => Err(format!("{what} `{value}` is not a positive whole number")),
                }
            };
            match arg.as_str() {
                "--rounds" => {
                    plan.rounds = u32::try_from(number("--rounds")?)
                        .map_err(|_| format!("--rounds `{value}` is too large"))?
                }
                "--requests" => plan.requests = number("--requests")?,
                "--concurrency" => plan.concurrency = number("--concurrency")?,
                _ => {
                    return Err(format!(
                        "unknown argument `{arg}`; expected --rounds, --requests or --concurrency"
                    ));
                }
            }
        }
        Ok(plan)
    }
}

/// Requests per second of one run of `plan.requests` at `level`.
async fn run(base: &str, plan: &Plan, level: Level) -> Result<f64, String> {
    leakwatch_core::set_level(level);
    let start = Instant::now();
    app::load(base, plan.requests, plan.concurrency).await?;
    Ok(plan.requests as f64 / start.elapsed().as_secs_f64())
}

/// A distribution-free 95% interval for the median of `values`: the order
/// statistics `k` in from each end, with `k` from the binomial's normal
/// approximation (meaningful from about ten values).
fn median_interval(mut values: Vec<f64>) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    let n = values.len() as f64;
    let k = ((n - 1.96 * n.sqrt()) / 2.0).floor().max(0.0) as usize;
    (values[k], values[values.len() - 1 - k])
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

async fn bench(plan: Plan) -> Result<(), String> {
    let metrics = LeakMetrics::new();
    let thresholds = "db-conn=1s".parse().map_err(|e| format!("{e}"))?;
    let _watchdog = app::watchdog(thresholds, &metrics);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
    let base = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let routes = app::app(metrics);
    tokio::spawn(async move { axum::serve(listener, routes).await });

    // Warm both paths: connections, allocator, the registry's slabs.
    let warm = Plan {
        requests: plan.requests.div_ceil(4),
        ..plan
    };
    run(&base, &warm, Level::Off).await?;
    run(&base, &warm, Level::Sites).await?;

    println!(
        "example service, {} requests per run on {} connections, {} rounds",
        plan.requests, plan.concurrency, plan.rounds
    );
    println!("round  first      off req/s    sites req/s   sites/off");
    let (mut off, mut sites, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..plan.rounds {
        let (o, s) = if round.is_multiple_of(2) {
            let o = run(&base, &plan, Level::Off).await?;
            (o, run(&base, &plan, Level::Sites).await?)
        } else {
            let s = run(&base, &plan, Level::Sites).await?;
            (run(&base, &plan, Level::Off).await?, s)
        };
        let first = if round.is_multiple_of(2) {
            "off"
        } else {
            "sites"
        };
        println!(
            "{round:>5}  {first:<5}  {o:>11.0}  {s:>13.0}   {:>8.4}",
            s / o
        );
        off.push(o);
        sites.push(s);
        ratios.push(s / o);
    }
    leakwatch_core::set_level(Level::Sites);
    let (low, high) = median_interval(ratios.clone());
    let (off, sites, ratio) = (median(off), median(sites), median(ratios));
    println!(
        "median: off {off:.0} req/s, sites {sites:.0} req/s; sites/off {ratio:.4} \
         ({:+.2}%, 95% interval {:+.2}% to {:+.2}%), ratio of medians {:.4}",
        (ratio - 1.0) * 100.0,
        (low - 1.0) * 100.0,
        (high - 1.0) * 100.0,
        sites / off
    );
    Ok(())
}

fn main() -> ExitCode {
    if !leakwatch_core::COMPILED_IN {
        eprintln!(
            "throughput: tracking is compiled out of this build, so `sites` would equal `off`; \
             run with `--features production`"
        );
        return ExitCode::FAILURE;
    }
    if let leakwatch::integration::Support::Unavailable(why) = leakwatch::integration::support() {
        eprintln!("throughput: libc is not interposed in this build: {why}");
        return ExitCode::FAILURE;
    }
    let plan = match Plan::from_args(std::env::args().skip(1)) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("throughput: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = leakwatch_core::Scope::new("checkout")
        .run(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
        })
        .expect("a tokio runtime");
    match runtime.block_on(bench(plan)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("throughput: {e}");
            ExitCode::FAILURE
        }
    }
}
