//! Requests the head leaves to the tail: no OpenTelemetry span is built for one unless
//! something could make the tail keep it, and the tail decides as it did when every
//! such request had its span from the start: errors (a 5xx, an `ERROR` event, a span in
//! error inside) and slow requests kept, with the request span's ids, name, attributes,
//! times and events; the rest dropped and counted.

#[path = "trace_common.rs"]
mod common;

use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use common::{Ctx, SLOW, attribute, hex, root, run, traces};
use opentelemetry::trace::{SpanKind, Status};
use voxscope::trace::{DECISION_ATTRIBUTE, SamplingPolicy, TraceConfig};
use voxscope_tests::{eventually, serve};

/// Whether the current tracing span has an OpenTelemetry span.
fn built_here() -> bool {
    let current = tracing::Span::current();
    current.id().is_some_and(|id| {
        tracing::dispatcher::get_default(|d| {
            tracing_opentelemetry::get_otel_context(&id, d).is_some()
        })
    })
}

fn routes(built: std::sync::Arc<std::sync::Mutex<Vec<bool>>>) -> Router {
    Router::new()
        .route(
            "/ok",
            get(move || async move {
                built.lock().expect("built").push(built_here());
                "ok"
            }),
        )
        .route("/unavailable", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .route(
            "/logged",
            get(|| async {
                tracing::info!(turn = 3_i64, "answered");
                "ok"
            }),
        )
        .route(
            "/logged-error",
            get(|| async {
                tracing::error!(error = "provider unavailable", "request failed");
                "ok"
            }),
        )
        .route("/child", get(|| async { tracing::info_span!("provider").in_scope(|| "ok") }))
        .route(
            "/child-error",
            get(|| async {
                tracing::info_span!("provider", otel.status_code = "error").in_scope(|| "ok")
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(SLOW).await;
                "ok"
            }),
        )
}

#[test]
fn a_request_left_to_the_tail_builds_no_span_unless_the_tail_may_keep_it() {
    let policy =
        SamplingPolicy::default().default_ratio(0.0).slow_threshold(Duration::from_millis(500));
    run(TraceConfig::new("deferred").policy(policy), |ctx: Ctx| async move {
        let built = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let app = routes(built.clone()).layer(ctx.pipeline.trace_layer());
        let addr = serve(app).await;
        let client = reqwest::Client::new();
        let mut ids = std::collections::HashMap::new();
        let began = std::time::SystemTime::now();
        for path in ["ok", "unavailable", "logged", "logged-error", "child", "child-error", "slow"]
        {
            for _ in 0..2 {
                let sent = Instant::now();
                let response =
                    client.get(format!("http://{addr}/{path}")).send().await.expect("request");
                let trace_id = response.headers()["x-trace-id"].to_str().expect("ascii").to_owned();
                assert_eq!(trace_id.len(), 32);
                ids.insert(trace_id, (path, sent.elapsed()));
            }
        }
        let decided = eventually(Duration::from_secs(10), || {
            ["kept_error", "kept_slow", "dropped"]
                .iter()
                .map(|d| ctx.metrics.decision(d))
                .sum::<f64>()
                >= 14.0
        })
        .await;
        assert!(decided, "every request decided");
        assert_eq!(ctx.metrics.decision("dropped"), 6.0, "ok, logged and child, twice each");
        assert_eq!(ctx.metrics.decision("kept_error"), 6.0);
        assert_eq!(ctx.metrics.decision("kept_slow"), 2.0);
        assert_eq!(built.lock().expect("built").as_slice(), [false, false], "nothing built");

        let kept = traces(&ctx);
        assert_eq!(kept.len(), 8, "{:?}", kept.keys());
        for (trace_id, spans) in &kept {
            let (path, took) = ids[&hex(&trace_id.to_bytes())];
            let request = root(spans);
            assert_eq!(request.name, format!("GET /{path}"));
            assert_eq!(request.span_kind, SpanKind::Server);
            assert_eq!(attribute(request, "http.route").as_deref(), Some(&*format!("/{path}")));
            assert_eq!(attribute(request, "url.path").as_deref(), Some(&*format!("/{path}")));
            assert_eq!(attribute(request, "http.request.method").as_deref(), Some("GET"));
            let status = if path == "unavailable" { "503" } else { "200" };
            assert_eq!(attribute(request, "http.response.status_code").as_deref(), Some(status));
            // As a traced request's span: a 5xx names its code as the error type.
            let error_type = (path == "unavailable").then_some("503");
            assert_eq!(attribute(request, "error.type").as_deref(), error_type, "{path}");
            assert!(request.start_time >= began && request.end_time >= request.start_time);
            let duration = request.end_time.duration_since(request.start_time).expect("ordered");
            assert!(duration <= took, "{path}: the span lies within the request");
            match path {
                "slow" => {
                    assert!(duration >= SLOW, "{duration:?}");
                    assert_eq!(request.status, Status::Unset);
                    assert_eq!(
                        attribute(request, DECISION_ATTRIBUTE).as_deref(),
                        Some("kept_slow")
                    );
                }
                "unavailable" | "logged-error" => {
                    assert!(matches!(request.status, Status::Error { .. }), "{path}");
                    assert_eq!(
                        attribute(request, DECISION_ATTRIBUTE).as_deref(),
                        Some("kept_error")
                    );
                    assert_eq!(spans.len(), 1);
                }
                "child-error" => {
                    assert_eq!(request.status, Status::Unset);
                    assert_eq!(
                        attribute(request, DECISION_ATTRIBUTE).as_deref(),
                        Some("kept_error")
                    );
                    let provider = spans.iter().find(|s| s.name == "provider").expect("child");
                    assert_eq!(provider.parent_span_id, request.span_context.span_id());
                    assert!(!provider.parent_span_is_remote);
                    assert!(matches!(provider.status, Status::Error { .. }));
                    assert_eq!(spans.len(), 2);
                }
                other => panic!("{other} was not to be kept"),
            }
            if path == "logged-error" {
                let event = request.events.iter().next().expect("the error event");
                assert_eq!(event.name, "request failed");
                assert!(
                    event
                        .attributes
                        .iter()
                        .any(|kv| kv.key.as_str() == "level" && kv.value.as_str() == "ERROR")
                );
            }
        }
        assert_eq!(ctx.metrics.get("voxscope_trace_buffer_spans"), 0.0);
    });
}
