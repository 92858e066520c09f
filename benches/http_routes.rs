//! Per-request cost of the HTTP layer on a plain tower service that sees many routes
//! (a `RouteFn`, one service for all of them), some past `max_routes`, from 1 and from 16
//! threads at once, against the same service without the layer, in one run.
//!
//! `cargo bench -p voxscope-benches --bench http_routes -- --warm-up-time 1 --measurement-time 3`
//!
//! Six paths in turn: four routes within `max_routes(4)` and two past it, which share the
//! overflow route. The service answers at once, so each request is polled to its end
//! without a runtime; the response body is read to its end (the layer records then).
//! One iteration is one request on each thread; the figure is wall time.

use std::convert::Infallible;

use axum::body::Body;
use axum::http::{Request, Response};
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;
use http_body_util::BodyExt;
use tower::{Service, ServiceExt};
use voxscope::HttpMetricsLayer;
use voxscope_benches::on_threads;

const PATHS: [&str; 6] = ["/calls/7", "/health", "/tts", "/stt", "/scan/1", "/scan/2"];

fn route(request: &Request<Body>) -> Option<&'static str> {
    match request.uri().path() {
        "/calls/7" => Some("/calls/{id}"),
        "/health" => Some("/health"),
        "/tts" => Some("/tts"),
        "/stt" => Some("/stt"),
        "/scan/1" => Some("/scan/1"),
        "/scan/2" => Some("/scan/2"),
        _ => None,
    }
}

async fn answer(_request: Request<Body>) -> Result<Response<Body>, Infallible> {
    Ok(Response::new(Body::from("ok")))
}

/// Sends one request to `path` through a clone of `service`, body read to its end.
fn one_request<S, B>(service: &S, path: &'static str)
where
    S: Service<Request<Body>, Response = Response<B>, Error = Infallible> + Clone,
    B: http_body::Body,
{
    let request = Request::get(path).body(Body::empty()).unwrap_or_default();
    let done = service
        .clone()
        .oneshot(request)
        .then(|response| async move {
            let Ok(response) = response;
            response.into_body().collect().await.is_ok()
        })
        .now_or_never();
    assert_eq!(done, Some(true), "the service answers without waiting");
}

fn http_routes(c: &mut Criterion) {
    let Ok(metrics) = voxscope::install() else {
        eprintln!("could not install the recorder");
        return;
    };
    let bare = tower::service_fn(answer);
    let layer = HttpMetricsLayer::builder().route_fn(route).max_routes(4).build();
    let Ok(layer) = layer else { return };
    let measured = tower::ServiceBuilder::new().layer(layer).service_fn(answer);

    for threads in [1, 16] {
        let mut group = c.benchmark_group(format!("http_routes_{threads}_threads"));
        group.bench_function("bare", |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, |t, i| one_request(&bare, PATHS[(t + i) % 6]))
            })
        });
        group.bench_function("voxscope_route_fn", |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, |t, i| one_request(&measured, PATHS[(t + i) % 6]))
            })
        });
        group.finish();
    }

    // Four routes and the overflow route were recorded, and the folds counted.
    let rendered = metrics.render();
    assert!(rendered.contains("route=\"/stt\""));
    assert!(rendered.contains("route=\"__overflow__\""));
    assert!(!rendered.contains("route=\"/scan/1\""));
    assert!(rendered.contains("voxscope_label_overflow_total"));
}

criterion_group!(benches, http_routes);
criterion_main!(benches);
