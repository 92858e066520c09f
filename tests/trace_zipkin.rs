//! Zipkin export: kept traces posted to a loopback receiver as Zipkin v2 JSON, checked
//! field by field as Zipkin's API documents them (ids as lowercase hex, `parentId`
//! absent on a root, kind, timestamp and duration in microseconds, the service as
//! `localEndpoint.serviceName`, attributes as string tags), and a refusing server's
//! spans counted as dropped.

#[path = "trace_common.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Ctx, Inbox, app, receiver, run_with};
use opentelemetry_sdk::trace::InMemorySpanExporter;
use serde_json::Value;
use voxscope::trace::{SamplingPolicy, TraceConfig, TracePipeline};
use voxscope_tests::{eventually, serve};

fn zipkin_receiver() -> (String, Inbox<Value>) {
    receiver("/api/v2/spans", "application/json", |body| {
        serde_json::from_slice(&body).expect("a JSON body")
    })
}

fn spans(inbox: &Inbox<Value>) -> Vec<Value> {
    let received = inbox.lock().expect("received");
    received.iter().flat_map(|(_, body)| body.as_array().cloned().expect("a span list")).collect()
}

fn micros_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_micros() as u64
}

fn is_hex(value: &Value, len: usize) -> bool {
    value.as_str().is_some_and(|s| {
        s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[test]
fn kept_traces_arrive_as_zipkin_v2_json() {
    let (endpoint, inbox) = zipkin_receiver();
    let config = TraceConfig::new("zipkin-tests")
        .policy(SamplingPolicy::default().default_ratio(0.0).route_ratio("/calls/{id}/hangup", 1.0))
        .zipkin_endpoint(endpoint);
    let pipeline = TracePipeline::new(&config).expect("pipeline");
    let received = inbox.clone();
    let window = std::cell::Cell::new((0, 0));
    let measured = &window;
    run_with(pipeline, InMemorySpanExporter::default(), |ctx: Ctx| async move {
        let addr = serve(app(&ctx.pipeline)).await;
        let client = reqwest::Client::new();
        let before = micros_now();
        let response = client
            .get(format!("http://{addr}/calls/7"))
            .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200);
        let response =
            client.post(format!("http://{addr}/calls/8/hangup")).send().await.expect("request");
        assert_eq!(response.status(), 200);
        let arrived = eventually(Duration::from_secs(10), || {
            ctx.pipeline.force_flush();
            spans(&received).len() >= 6
        })
        .await;
        assert!(arrived, "six spans at the receiver: {:?}", spans(&received));
        measured.set((before, micros_now()));
    });

    let content_type = inbox.lock().expect("received")[0].0["content-type"].clone();
    assert_eq!(content_type, "application/json");
    let all = spans(&inbox);
    assert_eq!(all.len(), 6, "{all:#?}");
    let (before, after) = window.get();
    for span in &all {
        assert!(is_hex(&span["traceId"], 32), "{span}");
        assert!(is_hex(&span["id"], 16), "{span}");
        assert_eq!(span["localEndpoint"]["serviceName"], "zipkin-tests", "{span}");
        let timestamp = span["timestamp"].as_u64().expect("timestamp");
        let duration = span["duration"].as_u64().expect("duration");
        // Microseconds: inside the test's window, which milliseconds or nanoseconds miss.
        assert!((before..=after).contains(&timestamp), "{timestamp} not in {before}..={after}");
        assert!(duration > 0 && timestamp + duration <= after, "{span}");
        for (key, value) in span["tags"].as_object().expect("tags") {
            assert!(value.is_string(), "tag {key} is a string");
        }
    }

    let find = |name: &str, trace: &str| {
        all.iter()
            .find(|s| s["name"] == name && s["traceId"] == trace)
            .unwrap_or_else(|| panic!("{name} in {trace}: {all:#?}"))
    };
    let traced = "4bf92f3577b34da6a3ce929d0e0e4736";
    let request = find("GET /calls/{id}", traced);
    let provider = find("provider", traced);
    let stt = find("stt.request", traced);
    assert_eq!(request["parentId"], "00f067aa0ba902b7", "the caller's span");
    assert_eq!(request["kind"], "SERVER");
    assert_eq!(request["tags"]["http.route"], "/calls/{id}");
    assert_eq!(request["tags"]["http.request.method"], "GET");
    assert_eq!(request["tags"]["http.response.status_code"], "200");
    assert_eq!(request["tags"]["voxscope.sampling.decision"], "kept_parent");
    assert_eq!(provider["parentId"], request["id"]);
    assert_eq!(provider.get("kind"), None, "an internal span has no Zipkin kind");
    assert_eq!(provider["tags"]["provider"], "deepgram");
    assert_eq!(stt["parentId"], provider["id"]);
    let bounds = |s: &Value| {
        let t = s["timestamp"].as_u64().unwrap_or_default();
        (t, t + s["duration"].as_u64().unwrap_or_default())
    };
    let (outer, inner) = (bounds(request), bounds(stt));
    assert!(outer.0 <= inner.0 && inner.1 <= outer.1, "the child lies within the request");

    let hangup = all.iter().find(|s| s["name"] == "POST /calls/{id}/hangup").expect("hangup");
    assert_eq!(hangup.get("parentId"), None, "a root has no parentId: {hangup}");
    assert_eq!(hangup["tags"]["voxscope.sampling.decision"], "kept_route");
}

#[test]
fn one_trace_exporter_at_a_time() {
    let both = TraceConfig::new("x")
        .otlp_endpoint("http://127.0.0.1:4318/v1/traces")
        .zipkin_endpoint("http://127.0.0.1:9411/api/v2/spans");
    assert_eq!(
        both.validate().unwrap_err().to_string(),
        "zipkin_endpoint: one trace exporter: unset otlp_endpoint to export to Zipkin \
         (got \"http://127.0.0.1:9411/api/v2/spans\")"
    );
    let env = TraceConfig::new("x").with_env_from(|key| {
        (key == "OTEL_EXPORTER_ZIPKIN_ENDPOINT").then(|| "zipkin:9411".to_owned())
    });
    assert_eq!(
        env.expect("read").validate().unwrap_err().to_string(),
        "zipkin_endpoint: an http:// or https:// URL (got \"zipkin:9411\")"
    );
}

#[test]
fn spans_a_zipkin_server_refuses_are_counted_as_dropped() {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let posts = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&posts);
    std::thread::spawn(move || {
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let refuse = axum::routing::post(move || async move {
                counted.fetch_add(1, Ordering::SeqCst);
                (axum::http::StatusCode::SERVICE_UNAVAILABLE, "storage is down")
            });
            let addr = serve(axum::Router::new().route("/api/v2/spans", refuse)).await;
            addr_tx.send(addr).expect("addr");
            std::future::pending::<()>().await;
        });
    });
    let addr = addr_rx.recv().expect("address");
    let config = TraceConfig::new("zipkin-tests")
        .policy(SamplingPolicy::default().default_ratio(1.0))
        .zipkin_endpoint(format!("http://{addr}/api/v2/spans"));
    let pipeline = TracePipeline::new(&config).expect("pipeline");
    run_with(pipeline, InMemorySpanExporter::default(), |ctx: Ctx| async move {
        let app_addr = serve(app(&ctx.pipeline)).await;
        let response = reqwest::get(format!("http://{app_addr}/calls/7")).await.expect("request");
        assert_eq!(response.status(), 200);
        let counted = eventually(Duration::from_secs(10), || {
            ctx.pipeline.force_flush();
            ctx.metrics.get("voxscope_trace_export_dropped_spans_total") >= 3.0
        })
        .await;
        assert!(counted, "the refused trace's spans are counted");
        assert_eq!(ctx.metrics.get("voxscope_trace_export_dropped_spans_total"), 3.0);
        assert!(posts.load(Ordering::SeqCst) >= 1);
    });
}
