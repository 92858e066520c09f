//! voxscope-trace end to end: sampling decisions, whole traces, W3C propagation, the
//! cost-free head drop, tail-buffer bounds, `/traces` and log correlation, through a
//! real server on loopback and the SDK's in-memory exporter.

#[path = "trace_common.rs"]
mod common;

use std::time::Duration;

use common::{Ctx, app, assert_whole, attribute, root, run, traces, wait_for_traces};
use opentelemetry::trace::{SpanId, Status, TraceId};
use voxscope::trace::{DECISION_ATTRIBUTE, SamplingMode, SamplingPolicy, TraceConfig};
use voxscope_tests::{eventually, serve};

fn config(policy: SamplingPolicy) -> TraceConfig {
    TraceConfig::new("trace-tests").policy(policy)
}

async fn get(client: &reqwest::Client, url: String) -> reqwest::Response {
    client.get(url).send().await.expect("request")
}

#[test]
fn ratio_keeps_its_share_of_ten_thousand_requests() {
    let policy =
        SamplingPolicy::default().default_ratio(0.1).slow_threshold(Duration::from_secs(60));
    run(config(policy), |ctx: Ctx| async move {
        let addr = serve(app(&ctx.pipeline)).await;
        let client = reqwest::Client::new();
        for i in 0..10_000 {
            let response = get(&client, format!("http://{addr}/calls/{i}")).await;
            assert_eq!(response.status(), 200);
        }
        let decided = eventually(Duration::from_secs(10), || {
            ctx.metrics.decision("kept_ratio") + ctx.metrics.decision("dropped") >= 10_000.0
        })
        .await;
        assert!(decided, "every request decided once");
        let kept = traces(&ctx);
        // Binomial(10,000, 0.1): sd 30, so ±200 is over six sd.
        assert!((800..=1_200).contains(&kept.len()), "kept {}", kept.len());
        assert_eq!(ctx.metrics.decision("kept_ratio"), kept.len() as f64);
        assert_eq!(ctx.metrics.decision("dropped"), 10_000.0 - kept.len() as f64);
        for spans in kept.values() {
            assert_whole(spans);
            assert_eq!(attribute(root(spans), DECISION_ATTRIBUTE).as_deref(), Some("kept_ratio"));
        }
    });
}

#[test]
fn errors_and_slow_requests_are_kept_whole() {
    let policy =
        SamplingPolicy::default().default_ratio(0.0).slow_threshold(Duration::from_millis(500));
    run(config(policy), |ctx: Ctx| async move {
        let addr = serve(app(&ctx.pipeline)).await;
        let client = reqwest::Client::new();
        for path in ["fail", "error", "panic", "missing", "calls/1", "slow"] {
            for _ in 0..5 {
                get(&client, format!("http://{addr}/{path}")).await;
            }
        }
        let kept = wait_for_traces(&ctx, 20).await;
        assert!(
            eventually(Duration::from_secs(5), || ctx.metrics.decision("dropped") >= 10.0).await
        );
        let mut by_route = std::collections::HashMap::<String, usize>::new();
        for spans in kept.values() {
            assert_whole(spans);
            let request = root(spans);
            let route = attribute(request, "http.route").expect("http.route");
            *by_route.entry(route.clone()).or_default() += 1;
            let decision = attribute(request, DECISION_ATTRIBUTE);
            if route == "/slow" {
                assert_eq!(decision.as_deref(), Some("kept_slow"));
                assert_eq!(request.status, Status::Unset);
            } else {
                assert_eq!(decision.as_deref(), Some("kept_error"), "{route}");
                assert!(matches!(request.status, Status::Error { .. }), "{route}");
            }
        }
        let expected: std::collections::HashMap<String, usize> =
            [("/fail", 5), ("/error", 5), ("/panic", 5), ("/slow", 5)]
                .into_iter()
                .map(|(r, n)| (r.to_owned(), n))
                .collect();
        assert_eq!(by_route, expected, "4xx and fast 2xx dropped, every 5xx and slow kept");
        assert_eq!(ctx.metrics.decision("kept_error"), 15.0);
        assert_eq!(ctx.metrics.decision("kept_slow"), 5.0);
        assert_eq!(ctx.metrics.decision("dropped"), 10.0);
    });
}

#[test]
fn critical_routes_and_sampled_parents_are_kept() {
    let policy = SamplingPolicy::default()
        .default_ratio(0.0)
        .route_ratio("/calls/{id}/hangup", 1.0)
        .route_ratio("/health", 0.0);
    run(config(policy), |ctx: Ctx| async move {
        let addr = serve(app(&ctx.pipeline)).await;
        let client = reqwest::Client::new();
        for i in 0..50 {
            let response =
                client.post(format!("http://{addr}/calls/{i}/hangup")).send().await.expect("post");
            assert_eq!(response.status(), 200);
        }
        let parent_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        let sampled = format!("00-{parent_trace}-00f067aa0ba902b7-01");
        let unsampled = "00-5bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b8-00".to_owned();
        for traceparent in [&sampled, &unsampled] {
            let response = client
                .get(format!("http://{addr}/calls/7"))
                .header("traceparent", traceparent)
                .header("tracestate", "vendor=opaque")
                .send()
                .await
                .expect("request");
            assert_eq!(response.headers()["x-trace-id"], &traceparent[3..35]);
        }
        get(&client, format!("http://{addr}/health")).await;

        let kept = wait_for_traces(&ctx, 51).await;
        assert_eq!(kept.len(), 51);
        let joined = &kept[&TraceId::from_hex(parent_trace).expect("hex")];
        assert_whole(joined);
        let request = root(joined);
        assert_eq!(request.parent_span_id, SpanId::from_hex("00f067aa0ba902b7").expect("hex"));
        assert!(request.parent_span_is_remote);
        assert_eq!(request.span_context.trace_state().header(), "vendor=opaque");
        assert_eq!(attribute(request, DECISION_ATTRIBUTE).as_deref(), Some("kept_parent"));
        let hangups = kept
            .values()
            .filter(|s| attribute(root(s), DECISION_ATTRIBUTE).as_deref() == Some("kept_route"))
            .count();
        assert_eq!(hangups, 50);
        assert!(
            eventually(Duration::from_secs(5), || ctx.metrics.decision("dropped") >= 2.0).await
        );
        assert_eq!(ctx.metrics.decision("kept_route"), 50.0);
        assert_eq!(ctx.metrics.decision("kept_parent"), 1.0);
    });
}

#[test]
fn malformed_traceparents_start_new_roots() {
    let malformed = [
        "00-1-1-01",
        "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "A0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
        "garbage",
        "",
    ];
    // Ratio 1: every request is kept, so each one shows where it was rooted.
    run(config(SamplingPolicy::default().default_ratio(1.0)), |ctx: Ctx| async move {
        let addr = serve(app(&ctx.pipeline)).await;
        let client = reqwest::Client::new();
        let mut header_ids = Vec::new();
        for value in malformed {
            let response = client
                .get(format!("http://{addr}/calls/1"))
                .header("traceparent", value)
                .send()
                .await
                .expect("request");
            assert_eq!(response.status(), 200, "{value:?}");
            header_ids.push(response.headers()["x-trace-id"].to_str().expect("ascii").to_owned());
        }
        let kept = wait_for_traces(&ctx, malformed.len()).await;
        assert_eq!(kept.len(), malformed.len(), "each malformed header started its own root");
        for (value, id) in malformed.iter().zip(&header_ids) {
            let spans = &kept[&TraceId::from_hex(id).expect("hex")];
            assert_whole(spans);
            assert_eq!(root(spans).parent_span_id, SpanId::INVALID, "{value:?}");
            assert_ne!(id, "4bf92f3577b34da6a3ce929d0e0e4736", "{value:?}");
        }
    });
}

#[test]
fn head_dropped_requests_build_no_otel_span() {
    use axum::routing::get as route_get;
    use tracing_opentelemetry::get_otel_context;

    /// Whether the current span, and a child created in it, have an OpenTelemetry span.
    fn otel_spans_here() -> (bool, bool) {
        let built = |span: &tracing::Span| {
            span.id().is_some_and(|id| {
                tracing::dispatcher::get_default(|d| get_otel_context(&id, d).is_some())
            })
        };
        let child = tracing::info_span!("probe");
        (built(&tracing::Span::current()), built(&child))
    }

    let policy = SamplingPolicy::default()
        .mode(SamplingMode::HeadOnly)
        .default_ratio(0.0)
        .route_ratio("/kept", 1.0);
    run(config(policy), |ctx: Ctx| async move {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = |seen: std::sync::Arc<std::sync::Mutex<Vec<(bool, bool)>>>| {
            move || async move {
                seen.lock().expect("seen").push(otel_spans_here());
                common::children().await;
                "ok"
            }
        };
        let router = axum::Router::new()
            .route("/dropped", route_get(record(seen.clone())))
            .route("/kept", route_get(record(seen.clone())))
            .layer(ctx.pipeline.trace_layer());
        let addr = serve(router).await;
        let client = reqwest::Client::new();
        let dropped = get(&client, format!("http://{addr}/dropped")).await;
        assert_eq!(dropped.headers()["x-trace-id"].len(), 32, "a trace id all the same");
        get(&client, format!("http://{addr}/kept")).await;

        let kept = wait_for_traces(&ctx, 1).await;
        assert_eq!(seen.lock().expect("seen").as_slice(), [(false, false), (true, true)]);
        assert_eq!(kept.len(), 1);
        assert_whole(kept.values().next().expect("one"));
        assert_eq!(ctx.metrics.decision("dropped"), 1.0);
        assert!(
            eventually(Duration::from_secs(5), || ctx.metrics.decision("kept_route") >= 1.0).await
        );
    });
}

#[test]
fn tail_buffer_stays_bounded_with_ten_thousand_open_traces() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tower::ServiceExt;

    const OPEN: usize = 10_000;
    // No slow rule: these requests wait for the test, and the tail cannot keep what an
    // early decision already dropped.
    let policy =
        SamplingPolicy::default().default_ratio(0.1).slow_threshold(Duration::from_secs(3_600));
    let config = config(policy).max_traces(1_000).max_spans_per_trace(4);
    run(config, |ctx: Ctx| async move {
        let waiting = Arc::new(AtomicUsize::new(0));
        let release = Arc::new(tokio::sync::Semaphore::new(0));
        let handler = {
            let (waiting, release) = (waiting.clone(), release.clone());
            move || async move {
                // Six finished children, over the four a trace may buffer.
                for _ in 0..3 {
                    common::children().await;
                }
                waiting.fetch_add(1, Ordering::SeqCst);
                let _permit = release.acquire().await;
                "done"
            }
        };
        let router = axum::Router::new()
            .route("/calls/{id}", axum::routing::get(handler))
            .layer(ctx.pipeline.trace_layer());
        let tasks: Vec<_> = (0..OPEN)
            .map(|i| {
                let request = axum::http::Request::get(format!("/calls/{i}"))
                    .body(axum::body::Body::empty())
                    .expect("request");
                tokio::spawn(router.clone().oneshot(request))
            })
            .collect();
        assert!(
            eventually(Duration::from_secs(120), || waiting.load(Ordering::SeqCst) == OPEN).await
        );
        let buffered = ctx.metrics.get("voxscope_trace_buffer_spans");
        assert!(buffered <= 1_000.0 * 4.0, "buffered {buffered}");
        assert!(ctx.metrics.get("voxscope_trace_buffer_overflow_total") >= 9_000.0);

        release.add_permits(OPEN);
        for task in tasks {
            let response = task.await.expect("task").expect("infallible");
            drop(axum::body::to_bytes(response.into_body(), 1024).await);
        }
        let all = eventually(Duration::from_secs(10), || {
            let decisions: f64 =
                ["kept_ratio", "dropped"].iter().map(|d| ctx.metrics.decision(d)).sum();
            decisions == OPEN as f64
        })
        .await;
        assert!(all, "each trace decided exactly once");
        assert_eq!(ctx.metrics.get("voxscope_trace_buffer_spans"), 0.0);
        // Traces decided early keep the decision for their later spans: whole or nothing.
        for spans in traces(&ctx).values() {
            assert_eq!(spans.iter().filter(|s| s.name == "provider").count(), 3);
        }
    });
}

#[test]
fn an_idle_process_sweeps_a_stalled_trace_on_a_timer_and_counts_it() {
    let policy =
        SamplingPolicy::default().default_ratio(0.0).slow_threshold(Duration::from_secs(3_600));
    let config = config(policy).max_wait(Duration::from_millis(600));
    run(config, |ctx: Ctx| async move {
        let addr = serve(app(&ctx.pipeline)).await;
        let client = reqwest::Client::new();
        // Its children end at once, its root only after 1.5 s.
        let stalled = tokio::spawn({
            let client = client.clone();
            async move { client.get(format!("http://{addr}/slow")).send().await.map(|r| r.status()) }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(ctx.metrics.get("voxscope_trace_buffer_spans"), 2.0, "children buffered");
        // No other span starts or ends: the timer alone releases the buffer.
        let swept = eventually(Duration::from_millis(800), || {
            ctx.metrics.get("voxscope_trace_buffer_overflow_total") == 1.0
        })
        .await;
        assert!(swept && !stalled.is_finished(), "swept while the process was idle");
        assert_eq!(ctx.metrics.get("voxscope_trace_buffer_spans"), 0.0);
        assert_eq!(ctx.metrics.decision("dropped"), 1.0);
        assert_eq!(stalled.await.expect("task").expect("request"), 200);
        // The root, ending later, followed the early decision instead of being counted again.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(ctx.metrics.decision("dropped"), 1.0);
        assert_eq!(ctx.metrics.get("voxscope_trace_buffer_overflow_total"), 1.0);
        assert!(traces(&ctx).is_empty());
    });
}

const TRACES: usize = 200;
const CHILDREN: usize = 500;
const CAP: usize = 10_000;

/// Opens local roots that stay open (background tasks, calls), each with finished
/// children waiting for it: 100,000 spans in all. Returns the roots and the buffer
/// gauge after the last trace.
fn hundred_thousand_spans(ctx: &Ctx) -> (Vec<tracing::Span>, f64) {
    let (mut roots, mut buffered) = (Vec::new(), 0.0);
    for n in 0..TRACES {
        let root = tracing::info_span!("task", n);
        root.in_scope(|| {
            for _ in 0..CHILDREN {
                tracing::info_span!("step").in_scope(|| ());
            }
        });
        // The debugging recorder reads a gauge once: read it where it was just set.
        buffered = ctx.metrics.get("voxscope_trace_buffer_spans");
        assert!(buffered <= CAP as f64, "{buffered} spans buffered after {n} traces");
        roots.push(root);
    }
    (roots, buffered)
}

fn capped(shards: usize) -> TraceConfig {
    let policy = SamplingPolicy::default().default_ratio(0.0);
    config(policy).max_buffered_spans(CAP).max_spans_per_trace(CHILDREN + 1).buffer_shards(shards)
}

/// Whole traces go, oldest first: 20 of 500 spans fit under the cap, the other 180
/// are decided early, each once.
fn oldest_traces_go_first(shards: usize) {
    run(capped(shards), |ctx: Ctx| async move {
        let (roots, buffered) = hundred_thousand_spans(&ctx);
        let evicted = TRACES - CAP / CHILDREN;
        assert_eq!(buffered, CAP as f64);
        assert_eq!(ctx.metrics.get("voxscope_trace_buffer_overflow_total"), evicted as f64);
        assert_eq!(ctx.metrics.decision("dropped"), evicted as f64);
        // The 20 newest roots end now: each still has its 500 spans waiting.
        let mut roots = roots;
        for root in roots.drain(evicted..) {
            drop(root);
            assert_eq!(ctx.metrics.get("voxscope_trace_buffer_overflow_total"), evicted as f64);
        }
        assert_eq!(ctx.metrics.get("voxscope_trace_buffer_spans"), 0.0);
        assert_eq!(ctx.metrics.decision("dropped"), TRACES as f64);
        // The evicted ones follow their early decision when their roots end.
        drop(roots);
        assert_eq!(ctx.metrics.decision("dropped"), TRACES as f64);
        assert_eq!(ctx.metrics.get("voxscope_trace_buffer_overflow_total"), evicted as f64);
    });
}

#[test]
fn a_hundred_thousand_buffered_spans_stay_under_the_cap_oldest_trace_first() {
    oldest_traces_go_first(1);
}

#[test]
fn a_sharded_buffer_shares_the_cap_and_still_evicts_the_oldest_trace_first() {
    oldest_traces_go_first(16);
}

#[test]
fn a_second_request_of_a_decided_trace_follows_the_decision() {
    let policy = SamplingPolicy::default().default_ratio(0.0);
    run(config(policy), |ctx: Ctx| async move {
        let addr = serve(app(&ctx.pipeline)).await;
        let client = reqwest::Client::new();
        let traceparent = "00-6bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
        for path in ["fail", "calls/1"] {
            let response = client
                .get(format!("http://{addr}/{path}"))
                .header("traceparent", traceparent)
                .send()
                .await
                .expect("request");
            assert_eq!(response.headers()["x-trace-id"], &traceparent[3..35]);
        }
        let complete = eventually(Duration::from_secs(10), || {
            traces(&ctx).values().next().is_some_and(|spans| spans.len() == 6)
        })
        .await;
        assert!(complete, "both requests, three spans each, in the one kept trace");
        assert_eq!(ctx.metrics.decision("kept_error"), 1.0);
        assert_eq!(ctx.metrics.decision("dropped"), 0.0);
        assert_eq!(ctx.metrics.get("voxscope_trace_buffer_overflow_total"), 0.0);
        assert_eq!(ctx.metrics.get("voxscope_trace_buffer_spans"), 0.0);
    });
}
