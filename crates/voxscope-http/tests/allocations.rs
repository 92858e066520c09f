//! Once a (route, method, status) combination is warm, the layer allocates nothing.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use metrics::{
    Counter, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use tower::{Service, ServiceBuilder, ServiceExt};
use voxscope_http::HttpMetricsLayer;

/// Handles that only count, so that the recorder's own storage (which may grow a
/// histogram buffer now and then) stays out of the measurement.
#[derive(Default)]
struct Tally(AtomicU64);

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
}

impl Recorder for TallyRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter {
        Counter::noop()
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(Arc::clone(&self.gauge_moves))
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Arc::clone(&self.observations))
    }
}

async fn hello(_request: Request<()>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"hello"))))
}

/// Sends `n` requests through `service` and reads each body to its end.
async fn drive<S, B>(service: &mut S, n: usize)
where
    S: Service<Request<()>, Response = Response<B>, Error = Infallible>,
    B: http_body::Body,
{
    for _ in 0..n {
        let Ok(ready) = service.ready().await;
        let Ok(response) = ready.call(Request::new(())).await;
        let _ = response.into_body().collect().await;
    }
}

/// Both services complete without waking, so no runtime is needed.
fn run(future: impl Future<Output = ()>) -> bool {
    futures_util::FutureExt::now_or_never(future).is_some()
}

#[test]
fn warm_requests_allocate_no_more_than_the_bare_service() {
    let recorder = TallyRecorder::default();
    metrics::with_local_recorder(&recorder, || {
        let layer =
            HttpMetricsLayer::builder().route_fn(|_: &Request<()>| Some("/hello")).build().unwrap();
        let mut measured = ServiceBuilder::new().layer(layer).service_fn(hello);
        let mut bare = tower::service_fn(hello);
        assert!(run(drive(&mut measured, 1)), "registers the handles");

        let bare_allocations = allocation_counter::measure(|| {
            assert!(run(drive(&mut bare, 100)));
        });
        let measured_allocations = allocation_counter::measure(|| {
            assert!(run(drive(&mut measured, 100)));
        });
        assert_eq!(
            measured_allocations.count_total, bare_allocations.count_total,
            "bare: {bare_allocations:?}, with the layer: {measured_allocations:?}"
        );
    });
    assert_eq!(recorder.observations.0.load(Ordering::Relaxed), 101);
    assert_eq!(recorder.gauge_moves.0.load(Ordering::Relaxed), 202);
}
