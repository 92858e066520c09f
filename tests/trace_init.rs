//! `voxscope::init_tracing` in a process of its own: it installs the global subscriber
//! once, and requests through the pipeline's layer are traced into `/traces`.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use voxscope::trace::{LogFormat, SamplingPolicy, TraceConfig, TraceError};
use voxscope_tests::{eventually, serve};

fn config() -> TraceConfig {
    TraceConfig::new("init-test")
        .policy(SamplingPolicy::default().default_ratio(1.0))
        .log_format(LogFormat::Off)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_installs_once_and_traces_requests() {
    let guard = voxscope::init_tracing(config()).expect("first init");
    assert!(matches!(voxscope::init_tracing(config()), Err(TraceError::AlreadyInitialised)));

    let pipeline = guard.pipeline();
    let app = Router::new()
        .route("/calls/{id}", get(|| async { "ok" }))
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
    drop(guard);
}
