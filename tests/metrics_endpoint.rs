//! The installed global recorder and `GET /metrics`, over real HTTP.

use std::sync::OnceLock;

use axum::Router;
use axum::routing::get;
use voxscope::{HttpMetricsLayer, MetricsHandle};
use voxscope_tests::{Exposition, promtool, promtool_check_metrics, serve};

/// The one global recorder of this test binary.
fn installed() -> &'static MetricsHandle {
    static HANDLE: OnceLock<MetricsHandle> = OnceLock::new();
    HANDLE.get_or_init(|| voxscope::install().expect("first install in this process"))
}

fn app(handle: &MetricsHandle) -> Router {
    Router::new()
        .route("/calls/{id}", get(|| async { "call" }))
        .layer(HttpMetricsLayer::builder().exclude_path("/metrics").build().unwrap())
        .merge(handle.endpoint().into_router())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_endpoint_serves_text_exposition_that_promtool_accepts() {
    let handle = installed();
    let addr = serve(app(handle)).await;
    let client = reqwest::Client::new();
    for id in 0..3 {
        client.get(format!("http://{addr}/calls/{id}")).send().await.unwrap();
    }
    let response = client.get(format!("http://{addr}/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    let exposition = Exposition::parse(response.text().await.unwrap());
    assert_eq!(
        exposition.count("http_server_request_duration_seconds", &[("route", "/calls/{id}")]),
        3
    );
    assert!(
        exposition.find("http_server_request_duration_seconds_bucket", &[("le", "2")]).count() > 0,
        "catalog buckets applied"
    );
    assert!(exposition.find("process_resident_memory_bytes", &[]).count() == 1, "process metrics");
    if let Some(promtool) = promtool() {
        promtool_check_metrics(&promtool, &exposition.text).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_token_protects_the_endpoint() {
    let handle = installed();
    let endpoint = handle.endpoint().require_bearer_token("s3cret").unwrap();
    let app = Router::new().merge(endpoint.into_router());
    let addr = serve(app).await;
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/metrics");

    let none = client.get(&url).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(none.headers()["www-authenticate"], "Bearer");
    let wrong = client.get(&url).bearer_auth("s3cre").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let basic = client.get(&url).basic_auth("s3cret", None::<&str>).send().await.unwrap();
    assert_eq!(basic.status(), 401);
    let right = client.get(&url).bearer_auth("s3cret").send().await.unwrap();
    assert_eq!(right.status(), 200);
    assert!(right.text().await.unwrap().contains("# TYPE"));
    // The scheme is case-insensitive (RFC 9110); the token is not.
    for header in ["bearer s3cret", "BEARER s3cret", "Bearer  s3cret"] {
        let response = client.get(&url).header("authorization", header).send().await.unwrap();
        assert_eq!(response.status(), 200, "{header}");
    }
    for header in ["Bearer S3CRET", "Bearers3cret", "Token s3cret", "Bearer"] {
        let response = client.get(&url).header("authorization", header).send().await.unwrap();
        assert_eq!(response.status(), 401, "{header}");
    }
}

#[test]
fn endpoint_settings_that_cannot_work_are_errors() {
    let (_, handle) = voxscope::builder().build().unwrap();
    for path in ["metrics", "", "/metrics/{id}", "/m/*rest", "/metrics?x"] {
        let err = handle.endpoint().at_path(path).unwrap_err();
        assert!(err.to_string().starts_with("metrics.path: must"), "{path}: {err}");
    }
    let err = handle.endpoint().require_bearer_token("").unwrap_err();
    assert_eq!(
        err.to_string(),
        "metrics.bearer_token: must be non-empty, without whitespace or control characters (got \"\")"
    );
    let err = handle.endpoint().require_bearer_token("two words").unwrap_err();
    assert!(err.to_string().ends_with("(got \"<redacted>\")"), "the token is never echoed: {err}");
    let err = voxscope::builder().upkeep_interval(std::time::Duration::ZERO).build().unwrap_err();
    assert_eq!(err.to_string(), "upkeep_interval: must be greater than 0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_serves_on_a_listener_of_its_own_at_a_custom_path() {
    let handle = installed();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(handle.endpoint().at_path("/internal/metrics").unwrap().serve(listener));
    let ok = reqwest::get(format!("http://{addr}/internal/metrics")).await.unwrap();
    assert_eq!(ok.status(), 200);
    let missing = reqwest::get(format!("http://{addr}/metrics")).await.unwrap();
    assert_eq!(missing.status(), 404);
}

#[test]
fn a_second_install_is_a_clear_error() {
    installed();
    let err = voxscope::install().unwrap_err();
    assert_eq!(err.to_string(), "a global metrics recorder is already installed");
}

#[test]
fn invalid_bucket_overrides_name_the_metric() {
    let err = voxscope::builder()
        .buckets_for("voice_turn_latency_seconds", &[0.5, 0.3])
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "buckets.voice_turn_latency_seconds: buckets must be strictly increasing, but 0.5 is followed by 0.3"
    );
    let err = voxscope::builder().buckets_for("voice_calls_total", &[1.0]).build().unwrap_err();
    assert_eq!(
        err.to_string(),
        "buckets.voice_calls_total: a catalog metric that is not a histogram (got \"voice_calls_total\")"
    );
    let err = voxscope::builder().buckets_for("app_booking_seconds", &[1.0, f64::NAN]).build();
    assert_eq!(
        err.unwrap_err().to_string(),
        "buckets.app_booking_seconds: bucket bound NaN is not a finite number"
    );
    let err = voxscope::builder()
        .buckets_for("http_server_request_duration_seconds", &[])
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "buckets.http_server_request_duration_seconds: buckets must not be empty"
    );
}

#[test]
fn applications_give_their_own_histograms_buckets() {
    let (recorder, handle) = voxscope::builder()
        .buckets_for("app_booking_seconds", &[0.5, 1.0])
        .buckets_for("app_booking_seconds", &[0.25, 0.5, 1.0, 2.0])
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        for seconds in [0.2, 0.7, 0.9, 3.0] {
            metrics::histogram!("app_booking_seconds", "outcome" => "booked").record(seconds);
        }
        metrics::histogram!("app_other_seconds").record(1.0);
    });
    let exposition = Exposition::render(&handle);
    let bucket = |le: &str| {
        exposition.sum("app_booking_seconds_bucket", &[("outcome", "booked"), ("le", le)])
    };
    // The last override wins, as for catalog histograms.
    assert_eq!(
        [bucket("0.25"), bucket("0.5"), bucket("1"), bucket("2"), bucket("+Inf")],
        [1.0, 1.0, 3.0, 3.0, 4.0]
    );
    assert_eq!(exposition.count("app_booking_seconds", &[]), 4);
    // A histogram without buckets still renders, as a summary.
    assert!(exposition.text.contains("# TYPE app_other_seconds summary"), "{}", exposition.text);
}
