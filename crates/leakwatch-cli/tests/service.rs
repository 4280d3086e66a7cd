//! `leakwatch flame` on the example service of `leakwatch-http` under its
//! load, at `LEAKWATCH=stacks`: the graph shows the handler that leaks, and
//! the picture in docs/production.md (`docs/flame.svg`) is this test's
//! output, so it cannot drift from the service it claims to show.
//!
//! This binary is named `service`, as the example's is, so the frames of
//! `service/app.rs` read here as they do in the example
//! (`service::app::order`). To redraw the picture after the service or its
//! dependencies change:
//!
//! ```text
//! LEAKWATCH_BLESS=1 cargo test -p leakwatch-cli --test service
//! ```

#[path = "../../leakwatch-http/examples/service/app.rs"]
#[allow(dead_code)] // the watchdog's wiring is tested in leakwatch-http
mod app;
mod support;

use std::path::{Path, PathBuf};

/// The picture docs/production.md shows.
fn docs_svg() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/flame.svg")
}

/// Each frame's tooltip (`name (N items, P%)`), bottom up, as inferno
/// writes them: what the graph shows, without its layout.
fn frames(svg: &str) -> Vec<String> {
    svg.split("<title>")
        .skip(1)
        .filter_map(|rest| rest.split_once("</title>").map(|(t, _)| t.to_owned()))
        .collect()
}

#[test]
fn the_flame_graph_of_the_example_service_shows_the_leaking_handler() {
    if !leakwatch_core::COMPILED_IN {
        return;
    }
    leakwatch_core::set_level(leakwatch_core::Level::Stacks);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // The runtime's workers keep serving after `block_on` returns.
    let base = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let routes = app::app(leakwatch_export::metrics::LeakMetrics::new());
        tokio::spawn(async move { axum::serve(listener, routes).await });
        app::load(&base, 1000, 4).await.expect("the load runs");
        base
    });

    let svg = support::scratch("flame.svg");
    let drawn = support::flame(&base, &svg);
    let shown = frames(&drawn);

    // One in a hundred of 1000 orders leaks its connection: all ten come
    // from the handler's checkout, so its frames span the whole graph.
    for frame in [
        "db-conn (10 items, 100.00%)",
        "service::app::order::{{closure}} (10 items, 100.00%)",
        "service::app::Pool::checkout (10 items, 100.00%)",
    ] {
        assert!(
            shown.iter().any(|f| f == frame),
            "{frame} not in {shown:#?}"
        );
    }
    assert!(
        drawn.len() < 300_000,
        "{} bytes: too large for docs/production.md",
        drawn.len()
    );

    if std::env::var_os("LEAKWATCH_BLESS").is_some() {
        std::fs::write(docs_svg(), &drawn).unwrap();
    }
    let committed = std::fs::read_to_string(docs_svg()).unwrap_or_default();
    assert_eq!(
        frames(&committed),
        shown,
        "docs/flame.svg no longer shows the example service's frames; redraw it with \
         LEAKWATCH_BLESS=1 cargo test -p leakwatch-cli --test service"
    );
    std::fs::remove_file(&svg).ok();
}
