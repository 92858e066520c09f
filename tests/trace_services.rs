//! One trace id across services: service A calls service B on loopback, each with its
//! own pipeline and logs. Every request carries the same trace id in both services'
//! logs, and both keep or both drop it, by OpenTelemetry's trace-id ratio rule, whether
//! A traced it or skipped it at the head.

#[path = "trace_common.rs"]
mod common;

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use common::Logs;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanKind, TraceId};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SamplingDecision, ShouldSample};
use tracing_subscriber::prelude::*;
use voxscope::trace::{
    LogFormat, SamplingMode, SamplingPolicy, TraceConfig, TracePipeline, TraceStore,
};
use voxscope_tests::eventually;

const RATIO: f64 = 0.5;
const REQUESTS: usize = 40;

struct Service {
    addr: SocketAddr,
    store: TraceStore,
    logs: Logs,
}

/// A service on a thread of its own, with its own subscriber; `downstream` is called
/// from every request, with the current context's `traceparent`, as an HTTP client
/// instrumented with OpenTelemetry's propagator would.
fn start(name: &'static str, mode: SamplingMode, downstream: Option<SocketAddr>) -> Service {
    let policy = SamplingPolicy::default().default_ratio(RATIO).mode(mode);
    let pipeline = TracePipeline::new(&TraceConfig::new(name).policy(policy)).expect("pipeline");
    let (store, logs) = (pipeline.store(), Logs::default());
    let (tx, rx) = std::sync::mpsc::channel();
    let writer = logs.clone();
    std::thread::spawn(move || {
        let subscriber = tracing_subscriber::registry().with(pipeline.otel_layer()).with(
            tracing_subscriber::fmt::layer()
                .event_format(pipeline.log_format(LogFormat::Text))
                .with_writer(move || writer.clone()),
        );
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        tracing::subscriber::with_default(subscriber, || {
            runtime.block_on(async move {
                let app = Router::new()
                    .route("/work", get(work))
                    .with_state(downstream)
                    .layer(pipeline.trace_layer());
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
                tx.send(listener.local_addr().expect("addr")).expect("send");
                axum::serve(listener, app).await.expect("serve");
            });
        });
    });
    let addr = rx.recv_timeout(Duration::from_secs(10)).expect("service started");
    Service { addr, store, logs }
}

async fn work(State(downstream): State<Option<SocketAddr>>) -> &'static str {
    tracing::info!("handled");
    if let Some(addr) = downstream {
        let mut headers = HashMap::new();
        TraceContextPropagator::new()
            .inject_context(&opentelemetry::Context::current(), &mut headers);
        let mut request = reqwest::Client::new().get(format!("http://{addr}/work"));
        for (key, value) in headers {
            request = request.header(key, value);
        }
        let response = request.send().await.expect("downstream");
        assert!(response.status().is_success());
    }
    "done"
}

/// The trace ids of the `handled` lines.
fn logged_ids(logs: &Logs) -> BTreeSet<String> {
    logs.lines()
        .iter()
        .filter(|line| line.ends_with(" handled"))
        .map(|line| {
            line.split("] [").nth(3).and_then(|r| r.split(']').next()).expect("id").to_owned()
        })
        .collect()
}

fn stored_ids(store: &TraceStore) -> BTreeSet<String> {
    store.traces(REQUESTS).iter().map(|t| t.trace_id.to_string()).collect()
}

/// What any OpenTelemetry SDK's `TraceIdRatioBased` sampler decides for `trace_id`.
fn ratio_keeps(trace_id: &str) -> bool {
    let id = TraceId::from_hex(trace_id).expect("hex id");
    let result =
        Sampler::TraceIdRatioBased(RATIO).should_sample(None, id, "", &SpanKind::Server, &[], &[]);
    result.decision == SamplingDecision::RecordAndSample
}

fn one_trace_id_across_services(mode: SamplingMode) {
    let b = start("service-b", mode, None);
    let a = start("service-a", mode, Some(b.addr));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let mut ids = BTreeSet::new();
        for _ in 0..REQUESTS {
            let response =
                client.get(format!("http://{}/work", a.addr)).send().await.expect("request");
            ids.insert(response.headers()["x-trace-id"].to_str().expect("ascii").to_owned());
        }
        assert_eq!(ids.len(), REQUESTS);
        let expected: BTreeSet<String> = ids.iter().filter(|id| ratio_keeps(id)).cloned().collect();
        // Some of each, or the test says nothing.
        assert!(!expected.is_empty() && expected.len() < REQUESTS, "{expected:?}");
        let settled = eventually(Duration::from_secs(10), || {
            stored_ids(&a.store) == expected && stored_ids(&b.store) == expected
        })
        .await;
        assert!(
            settled,
            "kept by A {:?}, by B {:?}, expected {expected:?}",
            stored_ids(&a.store),
            stored_ids(&b.store)
        );
        assert_eq!(logged_ids(&a.logs), ids, "A's log lines");
        assert_eq!(logged_ids(&b.logs), ids, "B's log lines");
        for trace in b.store.traces(REQUESTS) {
            assert_eq!(trace.decision.as_str(), "kept_parent");
        }
        for trace in a.store.traces(REQUESTS) {
            assert_eq!(trace.decision.as_str(), "kept_ratio");
        }
    });
}

#[test]
fn head_and_tail_services_agree_on_trace_ids_and_decisions() {
    one_trace_id_across_services(SamplingMode::HeadAndTail);
}

#[test]
fn head_only_services_agree_even_on_requests_skipped_at_the_head() {
    one_trace_id_across_services(SamplingMode::HeadOnly);
}
