//! `HttpMetricsLayer` on a real server on loopback, with a real HTTP client.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::StatusCode;
use axum::routing::get;
use bytes::Bytes;
use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use voxscope::HttpMetricsLayer;
use voxscope_tests::{
    Exposition, eventually, promtool, promtool_check_metrics, serve, with_local_prometheus,
};

const DURATION: &str = "http_server_request_duration_seconds";
const ACTIVE: &str = "http_server_active_requests";

async fn boom() -> &'static str {
    panic!("handler bug")
}

/// 200 chunks, 10 ms apart: two seconds of body.
async fn slow_stream() -> Body {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes, Infallible>>(1);
    tokio::spawn(async move {
        for i in 0..200 {
            if tx.send(Ok(Bytes::from(format!("chunk {i}\n")))).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    Body::from_stream(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)))
}

fn routes() -> Router {
    Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route("/calls/{id}", get(|| async { "call" }))
        .route("/fail", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .route("/stream", get(slow_stream))
        .route("/hang", get(std::future::pending::<&'static str>))
}

/// Sends a request over a raw socket, reads until `until` appears (or nothing), then
/// drops the connection with data unread, which resets it.
async fn disconnect_after(addr: SocketAddr, path: &str, until: Option<&str>, wait: Duration) {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: test\r\n\r\n");
    socket.write_all(request.as_bytes()).await.unwrap();
    if let Some(marker) = until {
        let mut seen = Vec::new();
        let mut buf = [0u8; 1024];
        while !String::from_utf8_lossy(&seen).contains(marker) {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "connection closed before {marker:?}");
            seen.extend_from_slice(&buf[..n]);
        }
    }
    tokio::time::sleep(wait).await;
    drop(socket);
}

#[test]
fn every_request_is_observed_exactly_once() {
    let handle = with_local_prometheus(|handle| async move {
        let caught = routes()
            .route("/panic", get(boom))
            .layer(HttpMetricsLayer::new())
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                Duration::from_millis(300),
            ))
            .layer(CatchPanicLayer::new());
        let uncaught = Router::new().route("/panic_raw", get(boom)).layer(HttpMetricsLayer::new());
        let addr = serve(caught).await;
        let raw_addr = serve(uncaught).await;
        let client = reqwest::Client::new();
        let get = |addr: SocketAddr, path: String| {
            let client = client.clone();
            async move { client.get(format!("http://{addr}{path}")).send().await }
        };

        for _ in 0..20 {
            assert_eq!(get(addr, "/ok".into()).await.unwrap().status(), 200);
        }
        for id in 0..10 {
            assert_eq!(get(addr, format!("/calls/{id}")).await.unwrap().status(), 200);
        }
        for _ in 0..5 {
            assert_eq!(get(addr, "/fail".into()).await.unwrap().status(), 500);
        }
        for _ in 0..3 {
            assert_eq!(get(addr, "/panic".into()).await.unwrap().status(), 500);
        }
        for _ in 0..2 {
            assert!(get(raw_addr, "/panic_raw".into()).await.is_err(), "the connection dies");
        }
        for _ in 0..3 {
            assert_eq!(get(addr, "/slow".into()).await.unwrap().status(), 408);
        }
        for i in 0..7 {
            assert_eq!(get(addr, format!("/scan/{i}.php")).await.unwrap().status(), 404);
        }
        for _ in 0..3 {
            disconnect_after(addr, "/stream", Some("chunk 1\n"), Duration::ZERO).await;
        }
        for _ in 0..2 {
            disconnect_after(addr, "/hang", None, Duration::from_millis(50)).await;
        }

        let settled = eventually(Duration::from_secs(10), || {
            let exposition = Exposition::render(&handle);
            exposition.count(DURATION, &[]) == 55 && exposition.sum(ACTIVE, &[]) == 0.0
        })
        .await;
        assert!(settled, "{}", Exposition::render(&handle).text);
    });

    let exposition = Exposition::render(&handle);
    let expect = |route: &str, status: &str, n: u64| {
        let got =
            exposition.count(DURATION, &[("method", "GET"), ("route", route), ("status", status)]);
        assert_eq!(got, n, "{route} {status}\n{}", exposition.text);
    };
    expect("/ok", "200", 20);
    expect("/calls/{id}", "200", 10);
    expect("/fail", "500", 5);
    expect("/panic", "500", 3);
    expect("/panic_raw", "500", 2);
    expect("/slow", "cancelled", 3);
    expect("unmatched", "404", 7);
    expect("/stream", "200", 3);
    expect("/hang", "cancelled", 2);
    assert_eq!(exposition.count(DURATION, &[]), 55);
    // The three streams cut off by their clients, and nothing else, ended aborted.
    let aborted = [("route", "/stream"), ("status", "200"), ("error_type", "aborted")];
    assert_eq!(exposition.count(DURATION, &aborted), 3);
    assert_eq!(exposition.label_values(&format!("{DURATION}_count"), "error_type"), ["aborted"]);
    assert_eq!(exposition.sum(ACTIVE, &[]), 0.0);

    // A streamed body is timed to its end, not to its headers: the disconnected clients
    // stayed for at least two chunks (10 ms apart), and no stream outlived its 2 s.
    let stream_sum = exposition.sum(&format!("{DURATION}_sum"), &[("route", "/stream")]);
    assert!((3.0 * 0.01..3.0 * 2.5).contains(&stream_sum), "stream sum {stream_sum}");
    let slow_sum = exposition.sum(&format!("{DURATION}_sum"), &[("route", "/slow")]);
    assert!((3.0 * 0.3..3.0 * 5.0).contains(&slow_sum), "slow sum {slow_sum}");
}

#[test]
fn streamed_body_duration_covers_the_whole_body() {
    let handle = with_local_prometheus(|_| async move {
        let addr = serve(routes().layer(HttpMetricsLayer::new())).await;
        let response = reqwest::get(format!("http://{addr}/stream")).await.unwrap();
        assert_eq!(response.bytes().await.unwrap().iter().filter(|&&b| b == b'\n').count(), 200);
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(exposition.count(DURATION, &[("route", "/stream")]), 1);
    assert!(exposition.label_values(&format!("{DURATION}_count"), "error_type").is_empty());
    let seconds = exposition.sum(&format!("{DURATION}_sum"), &[("route", "/stream")]);
    // 199 gaps of 10 ms: at least 1.99 s however fast the machine.
    assert!((1.99..30.0).contains(&seconds), "recorded {seconds} s");
}

#[test]
fn ten_thousand_random_paths_add_one_series() {
    let handle = with_local_prometheus(|_| async move {
        let app = Router::new()
            .route("/ok", get(|| async { "ok" }))
            .route("/calls/{id}", get(|| async { "call" }))
            .layer(HttpMetricsLayer::new());
        let addr = serve(app).await;
        let client = reqwest::Client::new();
        let mut rng = rand::rng();
        for _ in 0..10_000 {
            let path: String = (0..rng.random_range(1..4))
                .map(|_| format!("/{:x}", rng.random::<u64>()))
                .collect();
            let response = client
                .get(format!("http://{addr}{path}?q={}", rng.random::<u32>()))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::NOT_FOUND);
        }
        client.get(format!("http://{addr}/ok")).send().await.unwrap();
        client.get(format!("http://{addr}/calls/1")).send().await.unwrap();
    });
    let exposition = Exposition::render(&handle);
    let routes = exposition.label_values(&format!("{DURATION}_count"), "route");
    assert_eq!(routes, ["/calls/{id}", "/ok", "unmatched"]);
    assert_eq!(exposition.find(&format!("{DURATION}_count"), &[]).count(), 3);
    assert_eq!(exposition.count(DURATION, &[("route", "unmatched")]), 10_000);
    assert_eq!(exposition.sum(ACTIVE, &[]), 0.0);
}

#[test]
fn exposition_after_mixed_traffic_passes_promtool() {
    let Some(promtool) = promtool() else { return };
    let handle = with_local_prometheus(|_| async move {
        let app = routes()
            .layer(HttpMetricsLayer::builder().record_response_body_size(true).build().unwrap())
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                Duration::from_millis(100),
            ));
        let addr = serve(app).await;
        let client = reqwest::Client::new();
        for path in ["/ok", "/calls/1", "/fail", "/slow", "/nope", "/stream"] {
            let response = client.get(format!("http://{addr}{path}")).send().await.unwrap();
            response.bytes().await.unwrap();
        }
    });
    let exposition = Exposition::render(&handle);
    assert!(exposition.text.contains("# TYPE http_server_request_duration_seconds histogram"));
    assert!(exposition.text.contains("# HELP http_server_request_duration_seconds "));
    promtool_check_metrics(&promtool, &exposition.text).unwrap();
}

/// Three chunks, then the stream behind the body breaks.
async fn broken_stream() -> Body {
    let chunks = (0..4).map(|i| match i {
        3 => Err(std::io::Error::other("upstream TTS connection reset")),
        i => Ok(Bytes::from(format!("chunk {i}\n"))),
    });
    Body::from_stream(futures_util::stream::iter(chunks))
}

#[test]
fn bodies_that_fail_or_end_early_are_not_successes() {
    let handle = with_local_prometheus(|handle| async move {
        let app = routes()
            .route("/broken", get(broken_stream))
            .route("/empty", get(|| async { StatusCode::NO_CONTENT }))
            .layer(HttpMetricsLayer::new());
        let addr = serve(app).await;
        let client = reqwest::Client::new();
        for _ in 0..4 {
            // Depending on how much hyper had flushed, the client sees the head then a
            // broken body, or a message cut short.
            match client.get(format!("http://{addr}/broken")).send().await {
                Ok(response) => assert!(response.bytes().await.is_err(), "body must break"),
                Err(error) => assert!(error.is_request(), "{error}"),
            }
        }
        for _ in 0..2 {
            disconnect_after(addr, "/stream", Some("chunk 3\n"), Duration::ZERO).await;
        }
        for _ in 0..3 {
            let head = client.head(format!("http://{addr}/stream")).send().await.unwrap();
            assert_eq!(head.status(), 200);
            assert_eq!(
                client.get(format!("http://{addr}/empty")).send().await.unwrap().status(),
                204
            );
            assert_eq!(client.get(format!("http://{addr}/ok")).send().await.unwrap().status(), 200);
        }
        let settled = eventually(Duration::from_secs(10), || {
            let exposition = Exposition::render(&handle);
            exposition.count(DURATION, &[]) == 15 && exposition.sum(ACTIVE, &[]) == 0.0
        })
        .await;
        assert!(settled, "{}", Exposition::render(&handle).text);
    });
    let exposition = Exposition::render(&handle);
    let count = |route: &str, error_type: &str| {
        exposition
            .count(DURATION, &[("route", route), ("status", "200"), ("error_type", error_type)])
    };
    assert_eq!(count("/broken", "body_error"), 4);
    assert_eq!(count("/stream", "aborted"), 2);
    // HEAD, 204 and whole bodies carry no error_type.
    let with_error_type: u64 = ["aborted", "body_error"]
        .iter()
        .map(|e| exposition.count(DURATION, &[("error_type", e)]))
        .sum();
    assert_eq!(with_error_type, 6, "{}", exposition.text);
    assert_eq!(exposition.count(DURATION, &[("route", "/stream"), ("method", "HEAD")]), 3);
    assert_eq!(exposition.count(DURATION, &[("route", "/empty"), ("status", "204")]), 3);
}

/// Where the layer goes: after every `merge`, so that the merged router's fallback is
/// wrapped too. Applied before a `merge`, requests that match no route go unmeasured
/// (axum serves them from a fallback the layer never saw); this pins both.
#[test]
fn the_layer_covers_unmatched_requests_only_when_applied_after_merge() {
    let handle = with_local_prometheus(|_| async move {
        let extra = || Router::new().route("/traces", get(|| async { "traces" }));
        let after = Router::new()
            .route("/ok", get(|| async { "ok" }))
            .merge(extra())
            .layer(HttpMetricsLayer::builder().max_routes(10).build().unwrap());
        let before = Router::new()
            .route("/b/ok", get(|| async { "ok" }))
            .layer(HttpMetricsLayer::builder().max_routes(11).build().unwrap())
            .merge(extra());
        let (after, before) = (serve(after).await, serve(before).await);
        let client = reqwest::Client::new();
        for addr in [after, before] {
            for path in ["/ok", "/b/ok", "/traces", "/nope", "/wp-login.php"] {
                client.get(format!("http://{addr}{path}")).send().await.unwrap();
            }
        }
    });
    let exposition = Exposition::render(&handle);
    // After merge: /ok, /traces and three unmatched (one is /b/ok). Before merge: only
    // /b/ok, the one route the layer wrapped.
    assert_eq!(exposition.count(DURATION, &[("route", "unmatched")]), 3);
    assert_eq!(exposition.count(DURATION, &[("route", "/traces")]), 1);
    assert_eq!(exposition.count(DURATION, &[("route", "/ok")]), 1);
    assert_eq!(exposition.count(DURATION, &[("route", "/b/ok")]), 1);
    assert_eq!(exposition.count(DURATION, &[]), 6);
}
