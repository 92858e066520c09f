//! Once a (route, method, status) combination is warm, the layer allocates nothing: on
//! one route, on many routes seen by one service, and on the overflow route.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use tower::{Service, ServiceBuilder, ServiceExt};
use voxscope_http::HttpMetricsLayer;

/// Handles that only count, so that the recorder's own storage (which may grow a
/// histogram buffer now and then) stays out of the measurement.
#[derive(Default)]
struct Tally(AtomicU64);

impl CounterFn for Tally {
    fn increment(&self, value: u64) {
        self.0.fetch_add(value, Ordering::Relaxed);
    }
    fn absolute(&self, _value: u64) {}
}

impl HistogramFn for Tally {
    fn record(&self, _value: f64) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

impl GaugeFn for Tally {
    fn increment(&self, _value: f64) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn decrement(&self, _value: f64) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn set(&self, _value: f64) {}
}

#[derive(Default)]
struct TallyRecorder {
    observations: Arc<Tally>,
    gauge_moves: Arc<Tally>,
    /// The only counter the layer has is `voxscope_label_overflow_total`.
    folds: Arc<Tally>,
}

impl Recorder for TallyRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(Arc::clone(&self.folds))
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(Arc::clone(&self.gauge_moves))
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Arc::clone(&self.observations))
    }
}

/// Answers `/status/{code}` with that status, anything else with 200.
async fn hello(request: Request<()>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut response = Response::new(Full::new(Bytes::from_static(b"hello")));
    if let Some(code) = request.uri().path().strip_prefix("/status/") {
        *response.status_mut() = code.parse().unwrap();
    }
    Ok(response)
}

/// Sends a request to each of `paths`, `rounds` times, through `service`, and reads each
/// body to its end.
async fn drive<S, B>(service: &mut S, paths: &[&'static str], rounds: usize)
where
    S: Service<Request<()>, Response = Response<B>, Error = Infallible>,
    B: http_body::Body,
{
    for _ in 0..rounds {
        for path in paths {
            let request = Request::builder().uri(*path).body(()).unwrap();
            let Ok(ready) = service.ready().await;
            let Ok(response) = ready.call(request).await;
            let _ = response.into_body().collect().await;
        }
    }
}

/// Both services complete without waking, so no runtime is needed.
fn run(future: impl Future<Output = ()>) -> bool {
    futures_util::FutureExt::now_or_never(future).is_some()
}

/// The routes of a service that is not an axum router: five fit under `max_routes(5)`
/// (`unmatched` among them), the last two share the overflow route.
fn route(request: &Request<()>) -> Option<&'static str> {
    match request.uri().path() {
        "/calls/7" => Some("/calls/{id}"),
        path if path.starts_with("/status/") => Some("/status/{code}"),
        "/health" => Some("/health"),
        "/tts" => Some("/tts"),
        "/scan/1" => Some("/scan/1"),
        "/scan/2" => Some("/scan/2"),
        _ => None,
    }
}

const ONE_ROUTE: &[&str] = &["/calls/7"];
/// Five routes, one of them with ten statuses (more than a route keeps in slots), and
/// two routes past the cap.
const MANY_ROUTES: &[&str] = &[
    "/calls/7",
    "/health",
    "/tts",
    "/nope",
    "/status/400",
    "/status/401",
    "/status/402",
    "/status/403",
    "/status/404",
    "/status/405",
    "/status/406",
    "/status/407",
    "/status/408",
    "/status/409",
    "/scan/1",
    "/scan/2",
];

/// Warms `paths` up once, then compares 100 rounds with the bare service's allocations.
fn assert_warm_requests_allocate_like_bare(paths: &[&'static str]) -> TallyRecorder {
    let recorder = TallyRecorder::default();
    metrics::with_local_recorder(&recorder, || {
        let layer = HttpMetricsLayer::builder().route_fn(route).max_routes(5).build().unwrap();
        let mut measured = ServiceBuilder::new().layer(layer).service_fn(hello);
        let mut bare = tower::service_fn(hello);
        assert!(run(drive(&mut measured, paths, 1)), "registers the handles");

        let bare_allocations = allocation_counter::measure(|| {
            assert!(run(drive(&mut bare, paths, 100)));
        });
        let measured_allocations = allocation_counter::measure(|| {
            assert!(run(drive(&mut measured, paths, 100)));
        });
        assert_eq!(
            measured_allocations.count_total, bare_allocations.count_total,
            "bare: {bare_allocations:?}, with the layer: {measured_allocations:?}"
        );
    });
    recorder
}

#[test]
fn warm_requests_allocate_no_more_than_the_bare_service() {
    let recorder = assert_warm_requests_allocate_like_bare(ONE_ROUTE);
    assert_eq!(recorder.observations.0.load(Ordering::Relaxed), 101);
    assert_eq!(recorder.gauge_moves.0.load(Ordering::Relaxed), 202);
    assert_eq!(recorder.folds.0.load(Ordering::Relaxed), 0);
}

#[test]
fn warm_requests_on_many_routes_and_the_overflow_route_allocate_nothing_more() {
    let recorder = assert_warm_requests_allocate_like_bare(MANY_ROUTES);
    assert_eq!(recorder.observations.0.load(Ordering::Relaxed), 16 * 101);
    assert_eq!(recorder.gauge_moves.0.load(Ordering::Relaxed), 2 * 16 * 101);
    assert_eq!(recorder.folds.0.load(Ordering::Relaxed), 2 * 101, "/scan/1 and /scan/2");
}
