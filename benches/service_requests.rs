//! Per-request cost of the whole HTTP instrumentation of a service, as the demo stacks it,
//! under the demo's real subscriber: `voxscope::init_tracing` with logs at `warn` and the
//! demo's sampling policy (`/health` never, `/calls/{id}/hangup` always, 10 % of the
//! rest, every error and slow request at the tail).
//!
//! `cargo bench -p voxscope-benches --bench service_requests -- --warm-up-time 1 --measurement-time 3`
//!
//! One iteration is the five requests `loadgen`'s wrk script cycles through (`GET
//! /calls/call-1`, `GET /calls`, `POST /calls/call-2/hangup`, `GET /calls/call-0`, a 404
//! from the handler, and `GET /health`), through `tower::ServiceExt::oneshot` with the
//! body collected, on five routers that differ only in their layers, as the demo's
//! `--instrumentation` modes do:
//!
//! - `off`: no voxscope layer;
//! - `empty_layer`: a layer that does nothing (tower's `Identity`), what axum's
//!   `Router::layer` costs any layer before it does anything: each route's service, its
//!   future and its response body boxed once more;
//! - `metrics`: `HttpMetricsLayer`;
//! - `on`: `HttpMetricsLayer` under the pipeline's `TraceLayer`, both in one
//!   `Router::layer` call, as the demo puts them;
//! - `on_two_calls`: the same two layers in two `Router::layer` calls, so that axum boxes
//!   each route's service, future and response body once for each layer.
//!
//! After the timed runs it counts heap allocations per request of each route in each
//! mode over 10,000 warm requests each, with their mean wall time, and prints them, then checks that the HTTP layer
//! counted every request and that the tail kept exactly the `hangup` traces.

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{Request, StatusCode};
use axum::routing::{get, post};
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt;
use tower::ServiceExt;
use voxscope::HttpMetricsLayer;
use voxscope::trace::{SamplingPolicy, TraceConfig};

/// The requests of one iteration: (method, path), as loadgen's wrk script sends them.
const MIX: [(&str, &str); 5] = [
    ("GET", "/calls/call-1"),
    ("GET", "/calls"),
    ("POST", "/calls/call-2/hangup"),
    ("GET", "/calls/call-0"),
    ("GET", "/health"),
];

/// The demo's routes with handlers of about its size (small JSON bodies, a 404 for an
/// unknown call), so that what differs between the modes is the layers.
fn routes() -> Router {
    async fn get_call(Path(id): Path<String>) -> (StatusCode, &'static str) {
        if id == "call-0" {
            (StatusCode::NOT_FOUND, r#"{"error":"no such call"}"#)
        } else {
            (StatusCode::OK, r#"{"id":"call-1","state":"active","started_at":1}"#)
        }
    }
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/calls", get(|| async { r#"[{"id":"call-1","state":"active"}]"# }))
        .route("/calls/{id}", get(get_call))
        .route("/calls/{id}/hangup", post(|| async { r#"{"id":"call-2","state":"ended"}"# }))
}

fn request(method: &str, path: &str) -> Request<Body> {
    Request::builder().method(method).uri(path).body(Body::empty()).unwrap_or_default()
}

async fn one(app: &Router, method: &str, path: &str) {
    let Ok(response) = app.clone().oneshot(request(method, path)).await;
    let _ = response.into_body().collect().await;
}

async fn mix(app: &Router) {
    for (method, path) in MIX {
        one(app, method, path).await;
    }
}

/// Whether a mode's router has the HTTP metrics layer, which counts its requests.
fn counts_requests(mode: &str) -> bool {
    mode != "off" && mode != "empty_layer"
}

fn service_requests(c: &mut Criterion) {
    let metrics = voxscope::install().ok();
    let policy = SamplingPolicy::default()
        .route_ratio("/health", 0.0)
        .route_ratio("/metrics", 0.0)
        .route_ratio("/calls/{id}/hangup", 1.0);
    let config = TraceConfig::new("service_requests").policy(policy).log_filter("warn");
    let tracing = voxscope::init_tracing(config).ok();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok();
    let (Some(metrics), Some(tracing), Some(runtime)) = (metrics, tracing, runtime) else {
        eprintln!("could not install the recorder or the subscriber, or build the runtime");
        return;
    };
    let http = || HttpMetricsLayer::new();
    let modes: [(&str, Router); 5] = [
        ("off", routes()),
        ("empty_layer", routes().layer(tower::layer::util::Identity::new())),
        ("metrics", routes().layer(http())),
        ("on", routes().layer((tracing.pipeline().trace_layer(), http()))),
        ("on_two_calls", routes().layer(http()).layer(tracing.pipeline().trace_layer())),
    ];
    let modes = modes.map(|(name, app)| (name, app.with_state(())));

    let mut iterations = 0_u64;
    let mut group = c.benchmark_group("service_requests");
    for (name, app) in &modes {
        group.bench_function(*name, |b| {
            b.to_async(&runtime).iter(|| {
                if counts_requests(name) {
                    iterations += 1;
                }
                mix(app)
            })
        });
    }
    group.finish();

    const WARM: u64 = 10_000;
    for (name, app) in &modes {
        println!("service_requests/{name}: per request, heap allocations (bytes), wall time:");
        for (method, path) in MIX {
            runtime.block_on(one(app, method, path));
            let mut took = std::time::Duration::ZERO;
            let counted = allocation_counter::measure(|| {
                let began = std::time::Instant::now();
                runtime.block_on(async {
                    for _ in 0..WARM {
                        one(app, method, path).await;
                    }
                });
                took = began.elapsed();
            });
            let per_request = counted.count_total as f64 / WARM as f64;
            let bytes = counted.bytes_total as f64 / WARM as f64;
            let micros = took.as_secs_f64() * 1e6 / WARM as f64;
            println!("  {method} {path}: {per_request:.1} ({bytes:.0} B), {micros:.2} µs");
        }
        if counts_requests(name) {
            iterations += WARM + 1;
        }
    }

    // Every request of the two instrumented modes counted, `/health` among them.
    let rendered = metrics.render();
    let health: u64 = rendered
        .lines()
        .filter(|line| {
            line.starts_with("http_server_request_duration_seconds_count")
                && line.contains("route=\"/health\"")
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(health, iterations, "each instrumented /health request counted once");
    // The tail kept the hangup requests (ratio 1) and the store holds them.
    assert!(!tracing.pipeline().store().is_empty(), "hangup traces are kept");
}

criterion_group!(benches, service_requests);
criterion_main!(benches);
