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
