//! Unary HTTP providers timed as the caller hears them: reqwest against a loopback
//! server whose response head comes at once and whose body trickles in, as a TTS that
//! answers its audio as one response does. TTFB is the first body byte, duration the
//! body's end.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::routing::get;
use futures_util::{StreamExt, TryFutureExt, stream};
use http_body_util::BodyExt;
use tower::{Layer, ServiceExt, service_fn};
use voxscope::provider::{ProviderKind, ProviderLayer, ProviderMetrics};
use voxscope_tests::{Exposition, serve, with_local_prometheus};

/// Audio in three chunks: the first after 300 ms, then one every 400 ms.
async fn speech() -> Body {
    let chunks = stream::iter([300, 400, 400]).then(|ms| async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok::<_, Infallible>(Bytes::from_static(&[0xFF; 160]))
    });
    Body::from_stream(chunks)
}

fn app() -> Router {
    Router::new()
        .route("/speech", get(speech))
        .route("/down", get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "overloaded") }))
        .route("/quota", get(|| async { (StatusCode::TOO_MANY_REQUESTS, "slow down") }))
        .route("/empty", get(|| async { StatusCode::OK }))
}

#[test]
fn ttfb_is_the_first_body_byte_and_duration_the_end_of_the_body() {
    let handle = with_local_prometheus(|_| async {
        let addr = serve(app()).await;
        let client = reqwest::Client::new();
        let elevenlabs = ProviderMetrics::builder(ProviderKind::Tts, "elevenlabs").build().unwrap();
        let tts =
            ProviderLayer::new(elevenlabs).http_body().layer(service_fn(move |path: &str| {
                client.get(format!("http://{addr}{path}")).send().map_ok(axum::http::Response::from)
            }));
        let response = tts.oneshot("/speech").await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let audio = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(audio.len(), 480);
    });
    let exposition = Exposition::render(&handle);
    let labels = [("kind", "tts"), ("provider", "elevenlabs")];
    let ttfb = exposition.sum("voice_provider_ttfb_seconds_sum", &labels);
    let duration = exposition.sum("voice_provider_request_duration_seconds_sum", &labels);
    assert_eq!(exposition.count("voice_provider_ttfb_seconds", &labels), 1);
    assert!((0.3..0.7).contains(&ttfb), "ttfb {ttfb}: the first body byte, not the head");
    assert!(duration >= 1.1, "duration {duration}: until the body's end");
    assert!(duration - ttfb >= 0.7, "ttfb {ttfb} well below duration {duration}");
    assert_eq!(
        exposition.sum("voice_provider_requests_total", &[labels[1], ("outcome", "ok")]),
        1.0
    );
    assert_eq!(exposition.sum("voice_provider_in_flight", &labels), 0.0);
}

#[test]
fn error_statuses_empty_bodies_and_dropped_bodies_are_not_successes() {
    let handle = with_local_prometheus(|_| async {
        let addr = serve(app()).await;
        let client = reqwest::Client::new();
        let azure = ProviderMetrics::builder(ProviderKind::Tts, "azure").build().unwrap();
        let get = |path: &'static str| {
            let request = client.get(format!("http://{addr}{path}")).send();
            azure.observe_http(request.map_ok(axum::http::Response::from))
        };
        for path in ["/down", "/quota", "/empty"] {
            let body = get(path).await.unwrap().into_body();
            body.collect().await.unwrap();
        }
        // The caller stops listening after the first chunk.
        let mut body = get("/speech").await.unwrap().into_body();
        let first = body.frame().await.unwrap().unwrap();
        assert_eq!(first.data_ref().map(Bytes::len), Some(160));
        drop(body);
    });
    let exposition = Exposition::render(&handle);
    let azure = ("provider", "azure");
    let errors = |class| exposition.sum("voice_provider_errors_total", &[azure, ("error", class)]);
    let outcomes =
        |outcome| exposition.sum("voice_provider_requests_total", &[azure, ("outcome", outcome)]);
    assert_eq!(errors("unavailable"), 1.0);
    assert_eq!(errors("rate_limited"), 1.0);
    assert_eq!(errors("empty"), 1.0);
    assert_eq!(outcomes("error"), 3.0);
    assert_eq!(outcomes("ok"), 0.0);
    assert_eq!(outcomes("cancelled"), 1.0);
    assert_eq!(exposition.count("voice_provider_ttfb_seconds", &[azure]), 1);
    assert_eq!(exposition.sum("voice_provider_in_flight", &[azure]), 0.0);
}
