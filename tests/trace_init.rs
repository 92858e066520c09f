//! `voxscope::init_tracing` in a process of its own: it installs the global subscriber
//! once, requests through the pipeline's layer are traced into `/traces`, and the log
//! events its filter lets through are exported as OTLP log records.

#[path = "trace_common.rs"]
mod common;

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message;
use voxscope::trace::{LogFormat, SamplingPolicy, TraceConfig, TraceError};
use voxscope_tests::{eventually, serve};

fn config() -> TraceConfig {
    TraceConfig::new("init-test")
        .policy(SamplingPolicy::default().default_ratio(1.0))
        .log_format(LogFormat::Off)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_installs_once_and_traces_requests() {
    let (logs, received) = common::receiver("/v1/logs", "application/x-protobuf", |body| {
        ExportLogsServiceRequest::decode(body).expect("OTLP logs protobuf")
    });
    let bodies = || -> Vec<(String, String)> {
        let received = received.lock().expect("received");
        received
            .iter()
            .flat_map(|(_, r)| &r.resource_logs)
            .flat_map(|r| &r.scope_logs)
            .flat_map(|s| &s.log_records)
            .filter_map(|r| match r.body.as_ref()?.value.as_ref()? {
                Value::StringValue(s) => Some((s.clone(), common::hex(&r.trace_id))),
                _ => None,
            })
            .collect()
    };
    let logged = config().log_filter("warn").otlp_logs_endpoint(logs);
    let guard = voxscope::init_tracing(logged).expect("first init");
    assert!(matches!(voxscope::init_tracing(config()), Err(TraceError::AlreadyInitialised)));

    let pipeline = guard.pipeline();
    let app = Router::new()
        .route(
            "/calls/{id}",
            get(|| async {
                tracing::info!("below the log filter");
                tracing::warn!("through the log filter");
                "ok"
            }),
        )
        .layer(pipeline.trace_layer())
        .merge(pipeline.traces_router());
    let addr = serve(app).await;
    let client = reqwest::Client::new();
    let response = client.get(format!("http://{addr}/calls/9")).send().await.expect("request");
    let trace_id = response.headers()["x-trace-id"].to_str().expect("ascii").to_owned();
    assert!(eventually(Duration::from_secs(10), || pipeline.store().len() == 1).await);

    let body: serde_json::Value = client
        .get(format!("http://{addr}/traces"))
        .send()
        .await
        .expect("traces")
        .json()
        .await
        .expect("json");
    assert_eq!(body["traces"][0]["trace_id"], trace_id.as_str());
    assert_eq!(body["traces"][0]["root"], "GET /calls/{id}");
    assert_eq!(body["traces"][0]["kept"], "kept_ratio");

    let exported = eventually(Duration::from_secs(10), || {
        pipeline.force_flush();
        !bodies().is_empty()
    })
    .await;
    assert!(exported, "a log record at the receiver");
    assert_eq!(bodies(), [("through the log filter".to_owned(), trace_id)]);
    drop(guard);
}
