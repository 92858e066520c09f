//! Per-request cost of HTTP metrics middleware on a trivial axum router, through
//! `tower::ServiceExt::oneshot`, body collected (voxscope records when the body ends).
//!
//! `cargo bench -p voxscope-benches --bench http_layer`
//!
//! `identity_layer` is a layer that does nothing: the floor that any `Router::layer`
//! middleware pays (axum boxes and clones the layered route per request).
//!
//! All variants run in one process against one global Prometheus recorder, installed by
//! voxscope: axum-prometheus's `PrometheusMetricLayer::new()` records through the same
//! `metrics` facade, so both pay the same recorder and only the layers differ.

use axum::Router;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt;
use tower::ServiceExt;
use voxscope::HttpMetricsLayer;
use voxscope_benches::{call_request, trivial_router};

fn one_request(app: &Router) -> impl Future<Output = ()> + use<> {
    let app = app.clone();
    async move {
        let Ok(response) = app.oneshot(call_request()).await;
        let _ = response.into_body().collect().await;
    }
}

fn http_layer(c: &mut Criterion) {
    let metrics = voxscope::install().ok();
    let runtime = tokio::runtime::Builder::new_current_thread().build().ok();
    let (Some(metrics), Some(runtime)) = (metrics, runtime) else {
        eprintln!("could not install the recorder or build the runtime");
        return;
    };

    // `with_state(())` turns handlers into routes once, as `axum::serve` does; without it
    // axum rebuilds every handler's route, and so applies every layer, per request.
    let variants: [(&str, Router); 5] = [
        ("identity_layer", trivial_router().layer(tower::layer::layer_fn(|s| s))),
        ("bare", trivial_router()),
        ("voxscope", trivial_router().layer(HttpMetricsLayer::new())),
        ("axum_prometheus", trivial_router().layer(axum_prometheus::PrometheusMetricLayer::new())),
        ("tower_http_trace", trivial_router().layer(tower_http::trace::TraceLayer::new_for_http())),
    ];

    let mut group = c.benchmark_group("http_layer");
    for (name, app) in variants.map(|(name, app)| (name, app.with_state(()))).iter() {
        group.bench_function(*name, |b| b.to_async(&runtime).iter(|| one_request(app)));
    }
    group.finish();

    // Both layers really recorded into the recorder being measured.
    let rendered = metrics.render();
    assert!(rendered.contains("http_server_request_duration_seconds_count"));
    assert!(rendered.contains("axum_http_requests_total"));
}

criterion_group!(benches, http_layer);
criterion_main!(benches);
