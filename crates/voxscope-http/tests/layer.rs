//! Behaviour of `HttpMetricsLayer`, asserted through a local `DebuggingRecorder`.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use tower::{Service, ServiceExt};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use voxscope_http::HttpMetricsLayer;

const DURATION: &str = "http_server_request_duration_seconds";
const ACTIVE: &str = "http_server_active_requests";

/// Runs `test` on a current-thread runtime with a local recorder, returning a snapshot.
fn with_recorder<F, Fut>(test: F) -> Series
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    metrics::with_local_recorder(&recorder, || runtime.block_on(test()));
    Series::take(&snapshotter)
}

type Labels = Vec<(String, String)>;

/// A flattened snapshot: (name, sorted labels, value).
struct Series(Vec<(String, Labels, DebugValue)>);

impl Series {
    fn take(snapshotter: &Snapshotter) -> Self {
        Self(
            snapshotter
                .snapshot()
                .into_vec()
                .into_iter()
                .map(|(key, _, _, value)| {
                    let mut labels: Vec<_> = key
                        .key()
                        .labels()
                        .map(|l| (l.key().to_owned(), l.value().to_owned()))
                        .collect();
                    labels.sort();
                    (key.key().name().to_owned(), labels, value)
                })
                .collect(),
        )
    }

    /// Observations of the duration histogram for (method, route, status).
    fn durations(&self, method: &str, route: &str, status: &str) -> Vec<f64> {
        self.durations_with(method, route, status, None)
    }

    /// Durations of one series; `error_type` is the extra label of bodies that did not end.
    fn durations_with(
        &self,
        method: &str,
        route: &str,
        status: &str,
        error_type: Option<&str>,
    ) -> Vec<f64> {
        let mut wanted: Labels = vec![
            ("method".into(), method.into()),
            ("route".into(), route.into()),
            ("status".into(), status.into()),
        ];
        wanted.extend(error_type.map(|e| ("error_type".to_owned(), e.to_owned())));
        wanted.sort();
        self.0
            .iter()
            .filter(|(name, labels, _)| name == DURATION && *labels == wanted)
            .flat_map(|(_, _, value)| match value {
                DebugValue::Histogram(values) => values.iter().map(|v| v.into_inner()).collect(),
                _ => Vec::new(),
            })
            .collect()
    }

    fn duration_series(&self) -> usize {
        self.0.iter().filter(|(name, ..)| name == DURATION).count()
    }

    fn observations(&self, name: &str) -> usize {
        self.0
            .iter()
            .filter(|(n, ..)| n == name)
            .map(|(_, _, value)| match value {
                DebugValue::Histogram(values) => values.len(),
                _ => 0,
            })
            .sum()
    }

    fn gauge_total(&self, name: &str) -> f64 {
        self.0
            .iter()
            .filter(|(n, ..)| n == name)
            .map(|(_, _, value)| match value {
                DebugValue::Gauge(v) => v.into_inner(),
                _ => 0.0,
            })
            .sum()
    }

    /// `voxscope_label_overflow_total{metric}`.
    fn folds(&self, metric: &str) -> u64 {
        self.0
            .iter()
            .filter(|(n, labels, _)| {
                n == "voxscope_label_overflow_total"
                    && labels == &[("metric".to_owned(), metric.to_owned())]
            })
            .map(|(_, _, value)| match value {
                DebugValue::Counter(v) => *v,
                _ => 0,
            })
            .sum()
    }

    fn counter(&self, name: &str) -> u64 {
        self.0
            .iter()
            .filter(|(n, ..)| n == name)
            .map(|(_, _, value)| match value {
                DebugValue::Counter(v) => *v,
                _ => 0,
            })
            .sum()
    }
}

fn get_request(uri: &str) -> Request<Body> {
    Request::builder().uri(uri).body(Body::empty()).unwrap()
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, Bytes) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    (status, response.into_body().collect().await.unwrap().to_bytes())
}

fn calls_app(layer: HttpMetricsLayer) -> Router {
    Router::new()
        .route("/calls/{id}", get(|| async { "call" }).post(|| async { StatusCode::CREATED }))
        .route("/fail", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
        .layer(layer)
}

#[test]
fn records_route_template_method_and_status() {
    let series = with_recorder(|| async {
        let app = calls_app(HttpMetricsLayer::new());
        for id in 0..5 {
            assert_eq!(send(&app, get_request(&format!("/calls/{id}"))).await.0, StatusCode::OK);
        }
        let post = Request::post("/calls/7").body(Body::empty()).unwrap();
        assert_eq!(send(&app, post).await.0, StatusCode::CREATED);
        send(&app, get_request("/fail")).await;
    });
    assert_eq!(series.durations("GET", "/calls/{id}", "200").len(), 5);
    assert_eq!(series.durations("POST", "/calls/{id}", "201").len(), 1);
    assert_eq!(series.durations("GET", "/fail", "500").len(), 1);
    assert_eq!(series.duration_series(), 3);
    assert_eq!(series.gauge_total(ACTIVE), 0.0);
}

#[test]
fn unmatched_paths_share_one_route_value() {
    let series = with_recorder(|| async {
        let app = calls_app(HttpMetricsLayer::new());
        for i in 0..50 {
            assert_eq!(
                send(&app, get_request(&format!("/wp-admin/{i}.php"))).await.0,
                StatusCode::NOT_FOUND
            );
        }
    });
    assert_eq!(series.durations("GET", "unmatched", "404").len(), 50);
    assert_eq!(series.duration_series(), 1);
}

#[test]
fn nested_routers_report_the_full_template() {
    let series = with_recorder(|| async {
        let api = Router::new().route("/calls/{id}", get(|| async { "call" }));
        let app = Router::new().nest("/api", api).layer(HttpMetricsLayer::new());
        send(&app, get_request("/api/calls/9")).await;
    });
    assert_eq!(series.durations("GET", "/api/calls/{id}", "200").len(), 1, "{:?}", series.0);
}

#[test]
fn nonstandard_methods_are_other() {
    let series = with_recorder(|| async {
        let app = Router::new()
            .route("/dav", axum::routing::any(|| async { "ok" }))
            .layer(HttpMetricsLayer::new());
        let request = Request::builder()
            .method(Method::from_bytes(b"PROPFIND").unwrap())
            .uri("/dav")
            .body(Body::empty())
            .unwrap();
        send(&app, request).await;
    });
    assert_eq!(series.durations("_OTHER", "/dav", "200").len(), 1);
}

#[test]
fn timed_out_requests_record_cancelled() {
    let series = with_recorder(|| async {
        let app = Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    "late"
                }),
            )
            .layer(HttpMetricsLayer::new())
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                Duration::from_millis(50),
            ));
        assert_eq!(send(&app, get_request("/slow")).await.0, StatusCode::REQUEST_TIMEOUT);
    });
    let observed = series.durations("GET", "/slow", "cancelled");
    assert_eq!(observed.len(), 1, "{:?}", series.0);
    assert!(observed[0] >= 0.05 && observed[0] < 5.0, "{observed:?}");
    assert_eq!(series.gauge_total(ACTIVE), 0.0);
}

#[test]
fn dropped_request_futures_record_cancelled_once() {
    let series = with_recorder(|| async {
        let app = Router::new()
            .route("/hang", get(std::future::pending::<&'static str>))
            .layer(HttpMetricsLayer::new());
        for _ in 0..3 {
            let pending = app.clone().oneshot(get_request("/hang"));
            assert!(tokio::time::timeout(Duration::from_millis(10), pending).await.is_err());
        }
    });
    assert_eq!(series.durations("GET", "/hang", "cancelled").len(), 3);
    assert_eq!(series.gauge_total(ACTIVE), 0.0);
}

async fn boom() -> &'static str {
    panic!("handler bug")
}

#[test]
fn panics_caught_by_catch_panic_record_500() {
    let series = with_recorder(|| async {
        let app = Router::new()
            .route("/boom", get(boom))
            .layer(HttpMetricsLayer::new())
            .layer(CatchPanicLayer::new());
        assert_eq!(send(&app, get_request("/boom")).await.0, StatusCode::INTERNAL_SERVER_ERROR);
    });
    assert_eq!(series.durations("GET", "/boom", "500").len(), 1);
    assert_eq!(series.gauge_total(ACTIVE), 0.0);
}

#[test]
fn uncaught_panics_record_500_and_release_the_gauge() {
    let series = with_recorder(|| async {
        let app = Router::new().route("/boom", get(boom)).layer(HttpMetricsLayer::new());
        let task = tokio::spawn(app.oneshot(get_request("/boom")));
        assert!(task.await.unwrap_err().is_panic());
    });
    assert_eq!(series.durations("GET", "/boom", "500").len(), 1);
    assert_eq!(series.gauge_total(ACTIVE), 0.0);
}

fn streaming_app(chunks: usize, delay: Duration) -> Router {
    Router::new()
        .route(
            "/stream",
            get(move || async move {
                let stream = futures_stream(chunks, delay);
                Body::from_stream(stream)
            }),
        )
        .layer(HttpMetricsLayer::new())
}

fn futures_stream(
    chunks: usize,
    delay: Duration,
) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> + Send {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        for i in 0..chunks {
            tokio::time::sleep(delay).await;
            if tx.send(Ok(Bytes::from(format!("chunk {i}\n")))).await.is_err() {
                return;
            }
        }
    });
    tokio_stream_from(rx)
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, Infallible>>,
) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> + Send {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[test]
fn streamed_bodies_record_until_the_last_chunk() {
    let series = with_recorder(|| async {
        let app = streaming_app(4, Duration::from_millis(100));
        let (status, body) = send(&app, get_request("/stream")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body.len(), 4 * "chunk 0\n".len());
    });
    let observed = series.durations("GET", "/stream", "200");
    assert_eq!(observed.len(), 1);
    // Headers come back at once; the body takes 4 x 100 ms.
    assert!(observed[0] >= 0.4 && observed[0] < 10.0, "{observed:?}");
}

#[test]
fn bodies_dropped_mid_stream_record_once() {
    let series = with_recorder(|| async {
        let app = streaming_app(100, Duration::from_millis(5));
        let response = app.oneshot(get_request("/stream")).await.unwrap();
        let mut body = response.into_body();
        let first = body.frame().await.unwrap().unwrap();
        assert!(first.is_data());
        drop(body);
        tokio::time::sleep(Duration::from_millis(20)).await;
    });
    assert_eq!(series.durations_with("GET", "/stream", "200", Some("aborted")).len(), 1);
    assert_eq!(series.observations(DURATION), 1);
    assert_eq!(series.gauge_total(ACTIVE), 0.0);
}

#[test]
fn excluded_paths_record_nothing() {
    let series = with_recorder(|| async {
        let layer = HttpMetricsLayer::builder()
            .exclude_path("/metrics")
            .exclude_prefix("/health")
            .build()
            .unwrap();
        let app = Router::new()
            .route("/metrics", get(|| async { "" }))
            .route("/health/live", get(|| async { "ok" }))
            .route("/metrics/extra", get(|| async { "" }))
            .layer(layer);
        send(&app, get_request("/metrics")).await;
        send(&app, get_request("/health/live")).await;
        send(&app, get_request("/metrics/extra")).await;
    });
    assert_eq!(series.duration_series(), 1);
    assert_eq!(series.durations("GET", "/metrics/extra", "200").len(), 1);
}

#[test]
fn routes_past_the_cap_fold_into_overflow_and_are_counted() {
    let series = with_recorder(|| async {
        let layer = HttpMetricsLayer::builder().max_routes(2).build().unwrap();
        let app = Router::new()
            .route("/a", get(|| async { "" }))
            .route("/b", get(|| async { "" }))
            .route("/c", get(|| async { "" }))
            .route("/d", get(|| async { "" }))
            .layer(layer);
        for path in ["/a", "/b", "/c", "/d", "/a"] {
            send(&app, get_request(path)).await;
        }
    });
    assert_eq!(series.durations("GET", "/a", "200").len(), 2);
    assert_eq!(series.durations("GET", "__overflow__", "200").len(), 2);
    assert_eq!(series.duration_series(), 3);
    assert_eq!(series.counter("voxscope_label_overflow_total"), 2);
    assert_eq!(series.folds(DURATION), 2);
}

/// A plain tower service whose route is its path, answering `body`.
fn path_routed_service(
    layer: HttpMetricsLayer<impl voxscope_http::RouteSource<String>>,
) -> impl Service<
    Request<String>,
    Response = Response<impl http_body::Body<Error: std::fmt::Debug>>,
    Error = Infallible,
> + Clone {
    tower::ServiceBuilder::new().layer(layer).service_fn(|_req: Request<String>| async {
        Ok::<_, Infallible>(Response::new(http_body_util::Full::new(Bytes::from_static(b"body"))))
    })
}

const ROUTES: [&str; 8] = ["/r0", "/r1", "/r2", "/r3", "/r4", "/r5", "/r6", "/r7"];

fn route_of_path(req: &Request<String>) -> Option<&'static str> {
    ROUTES.iter().find(|r| **r == req.uri().path()).copied()
}

#[test]
fn each_request_past_the_cap_counts_once_per_folded_metric() {
    let series = with_recorder(|| async {
        let layer = HttpMetricsLayer::builder()
            .route_fn(route_of_path)
            .max_routes(1)
            .record_response_body_size(true)
            .build()
            .unwrap();
        let service = path_routed_service(layer);
        for uri in ["/r0", "/r1", "/r1", "/r2", "/r0"] {
            let request = Request::get(uri).body(String::new()).unwrap();
            let response = service.clone().oneshot(request).await.unwrap();
            response.into_body().collect().await.unwrap();
        }
    });
    assert_eq!(series.durations("GET", "/r0", "200").len(), 2);
    assert_eq!(series.durations("GET", "__overflow__", "200").len(), 3);
    assert_eq!(series.folds(DURATION), 3);
    assert_eq!(series.folds("http_server_response_body_bytes"), 3);
    assert_eq!(series.observations("http_server_response_body_bytes"), 5);
}

/// 16 threads send the first requests of 8 routes at once, through one `RouteFn`
/// service, against a cap of 5: exactly 5 routes get a series, and each route's requests
/// all land in one series (its own or the overflow one).
#[test]
fn concurrent_first_requests_keep_the_route_cap_exact() {
    const THREADS: usize = 16;
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let layer = HttpMetricsLayer::builder().route_fn(route_of_path).max_routes(5).build().unwrap();
    let service = path_routed_service(layer);
    let start = std::sync::Barrier::new(THREADS);
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let (recorder, start, mut service) = (&recorder, &start, service.clone());
            scope.spawn(move || {
                metrics::with_local_recorder(recorder, || {
                    start.wait();
                    for i in 0..2 * ROUTES.len() {
                        let uri = ROUTES[(i + thread) % ROUTES.len()];
                        let request = Request::get(uri).body(String::new()).unwrap();
                        let done = futures_util::FutureExt::now_or_never(async {
                            let response = service.ready().await?.call(request).await?;
                            let _ = response.into_body().collect().await;
                            Ok::<_, Infallible>(())
                        });
                        assert!(matches!(done, Some(Ok(()))));
                    }
                });
            });
        }
    });
    let series = Series::take(&snapshotter);
    let own: Vec<_> =
        ROUTES.iter().map(|route| series.durations("GET", route, "200").len()).collect();
    assert_eq!(own.iter().filter(|n| **n > 0).count(), 5, "{own:?}");
    assert!(own.iter().all(|n| *n == 0 || *n == 2 * THREADS), "{own:?}");
    assert_eq!(series.durations("GET", "__overflow__", "200").len(), 3 * 2 * THREADS);
    assert_eq!(series.folds(DURATION), 3 * 2 * THREADS as u64);
    assert_eq!(series.gauge_total(ACTIVE), 0.0);
}

#[test]
fn route_fn_labels_plain_tower_services() {
    let series = with_recorder(|| async {
        let layer = HttpMetricsLayer::builder()
            .route_fn(|req: &Request<String>| {
                req.uri().path().starts_with("/calls/").then_some("/calls/{id}")
            })
            .build()
            .unwrap();
        let service =
            tower::ServiceBuilder::new().layer(layer).service_fn(|_req: Request<String>| async {
                Ok::<_, Infallible>(Response::new(http_body_util::Full::new(Bytes::from_static(
                    b"hi",
                ))))
            });
        for uri in ["/calls/1", "/calls/2", "/other"] {
            let response = service
                .clone()
                .oneshot(Request::get(uri).body(String::new()).unwrap())
                .await
                .unwrap();
            response.into_body().collect().await.unwrap();
        }
    });
    assert_eq!(series.durations("GET", "/calls/{id}", "200").len(), 2);
    assert_eq!(series.durations("GET", "unmatched", "200").len(), 1);
}

#[test]
fn inner_service_errors_record_500() {
    let series = with_recorder(|| async {
        let layer =
            HttpMetricsLayer::builder().route_fn(|_: &Request<String>| Some("/x")).build().unwrap();
        let service =
            tower::ServiceBuilder::new().layer(layer).service_fn(|_req: Request<String>| async {
                Err::<Response<String>, _>(std::io::Error::other("upstream gone"))
            });
        assert!(service.oneshot(Request::get("/x").body(String::new()).unwrap()).await.is_err());
    });
    assert_eq!(series.durations("GET", "/x", "500").len(), 1);
    assert_eq!(series.gauge_total(ACTIVE), 0.0);
}

#[test]
fn body_sizes_are_recorded_when_enabled() {
    let series = with_recorder(|| async {
        let layer = HttpMetricsLayer::builder().record_response_body_size(true).build().unwrap();
        let app = Router::new().route("/big", get(|| async { "x".repeat(5000) })).layer(layer);
        send(&app, get_request("/big")).await;
    });
    let sizes: Vec<f64> = series
        .0
        .iter()
        .filter(|(name, ..)| name == "http_server_response_body_bytes")
        .flat_map(|(_, _, v)| match v {
            DebugValue::Histogram(values) => values.iter().map(|v| v.into_inner()).collect(),
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(sizes, vec![5000.0]);
}

#[test]
fn builder_errors_name_the_field() {
    let err = HttpMetricsLayer::builder().max_routes(0).build().unwrap_err();
    assert_eq!(err.to_string(), "max_routes: must be greater than 0");
    let err = HttpMetricsLayer::builder().exclude_prefix("health").build().unwrap_err();
    assert!(err.to_string().starts_with("exclude_prefix:"), "{err}");
    assert!(err.to_string().contains("\"health\""), "{err}");
}

/// Counts registrations, to prove warm requests never reach the registry.
struct CountingRecorder {
    inner: DebuggingRecorder,
    registrations: Arc<AtomicUsize>,
}

impl Recorder for CountingRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_counter(key, unit, description)
    }
    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_gauge(key, unit, description)
    }
    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_histogram(key, unit, description)
    }
    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        self.registrations.fetch_add(1, Ordering::SeqCst);
        self.inner.register_counter(key, metadata)
    }
    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        self.registrations.fetch_add(1, Ordering::SeqCst);
        self.inner.register_gauge(key, metadata)
    }
    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        self.registrations.fetch_add(1, Ordering::SeqCst);
        self.inner.register_histogram(key, metadata)
    }
}

#[test]
fn warm_requests_do_not_touch_the_registry() {
    let registrations = Arc::new(AtomicUsize::new(0));
    let recorder = CountingRecorder {
        inner: DebuggingRecorder::new(),
        registrations: Arc::clone(&registrations),
    };
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let mut app = calls_app(HttpMetricsLayer::new()).into_service::<Body>();
            let mut call = |uri: &'static str| {
                let fut = app.call(get_request(uri));
                async move { fut.await.unwrap().into_body().collect().await.unwrap() }
            };
            call("/calls/1").await;
            let warm = registrations.load(Ordering::SeqCst);
            assert_eq!(warm, 2, "one gauge and one histogram");
            for _ in 0..100 {
                call("/calls/2").await;
            }
            assert_eq!(registrations.load(Ordering::SeqCst), warm);
        })
    });
}
