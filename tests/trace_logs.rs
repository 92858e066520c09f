//! Log records over OTLP: a real OTLP/HTTP receiver on loopback decodes the protobuf
//! `ExportLogsServiceRequest`, and each record carries the trace and span ids of the
//! span it was logged in, for traced requests and for requests the head sampler
//! skipped, so that logs can be searched by the trace id a caller sent or received.

#[path = "trace_common.rs"]
mod common;

use std::time::Duration;

use common::{Ctx, Inbox, hex, receiver, run_with, traces};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_sdk::trace::InMemorySpanExporter;
use prost::Message;
use tracing::Instrument;
use voxscope::trace::{SamplingPolicy, TraceConfig, TracePipeline};
use voxscope_tests::{eventually, serve};

fn logs_receiver() -> (String, Inbox<ExportLogsServiceRequest>) {
    receiver("/v1/logs", "application/x-protobuf", |body| {
        ExportLogsServiceRequest::decode(body).expect("OTLP logs protobuf")
    })
}

/// Every record received, with the `service.name` of its resource.
fn records(inbox: &Inbox<ExportLogsServiceRequest>) -> Vec<(String, LogRecord)> {
    let received = inbox.lock().expect("received");
    let mut out = Vec::new();
    for (_, request) in received.iter() {
        for resource_logs in &request.resource_logs {
            let service = resource_logs
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                    any_value::Value::StringValue(s) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for scope in &resource_logs.scope_logs {
                out.extend(scope.log_records.iter().map(|r| (service.clone(), r.clone())));
            }
        }
    }
    out
}

fn body(record: &LogRecord) -> Option<&str> {
    match record.body.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s),
        _ => None,
    }
}

fn with_body<'a>(records: &'a [(String, LogRecord)], text: &str) -> Vec<&'a (String, LogRecord)> {
    records.iter().filter(|(_, r)| body(r) == Some(text)).collect()
}

/// Routes of the shared demo app, one that logs a warning with fields, and one that logs
/// from a task spawned with the request's span (polled outside the request's future).
fn app(pipeline: &TracePipeline) -> axum::Router {
    common::app(pipeline).merge(
        axum::Router::new()
            .route(
                "/warn",
                axum::routing::get(|| async {
                    tracing::warn!(provider = "deepgram", attempt = 2_u64, "provider slow");
                    "warned"
                }),
            )
            .route(
                "/spawned",
                axum::routing::get(|| async {
                    let task = async { tracing::info!("in a spawned task") }
                        .instrument(tracing::Span::current());
                    tokio::spawn(task).await.expect("task");
                    "spawned"
                }),
            )
            .layer(pipeline.trace_layer()),
    )
}

#[test]
fn log_records_carry_the_trace_and_span_of_a_traced_request() {
    let (endpoint, inbox) = logs_receiver();
    let config = TraceConfig::new("log-tests").otlp_logs_endpoint(endpoint);
    let exporter = InMemorySpanExporter::default();
    let pipeline = TracePipeline::with_exporter(&config, exporter.clone()).expect("pipeline");
    let received = inbox.clone();
    run_with(pipeline, exporter, |ctx: Ctx| async move {
        tracing::info!("outside any request");
        let addr = serve(app(&ctx.pipeline)).await;
        let client = reqwest::Client::new();
        let response = client
            .get(format!("http://{addr}/calls/7"))
            .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200);
        let response = client
            .get(format!("http://{addr}/warn"))
            .header("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200);
        let arrived = eventually(Duration::from_secs(10), || {
            ctx.pipeline.force_flush();
            let all = records(&received);
            !with_body(&all, "transcribed").is_empty()
                && !with_body(&all, "provider slow").is_empty()
        })
        .await;
        assert!(arrived, "the log records at the receiver: {:?}", records(&received));

        let spans = traces(&ctx);
        let trace = spans
            .iter()
            .find(|(id, _)| id.to_string() == "4bf92f3577b34da6a3ce929d0e0e4736")
            .map(|(_, spans)| spans)
            .expect("the request's trace");
        let stt = trace.iter().find(|s| s.name == "stt.request").expect("stt span");

        let all = records(&received);
        let transcribed = with_body(&all, "transcribed");
        assert_eq!(transcribed.len(), 1);
        let (service, record) = transcribed[0];
        assert_eq!(service, "log-tests");
        assert_eq!(hex(&record.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
        // The innermost span the event happened in: the provider's request span.
        assert_eq!(hex(&record.span_id), stt.span_context.span_id().to_string());
        assert_eq!(record.flags & 0xff, 1, "sampled");
        assert_eq!(record.severity_number, 9, "SEVERITY_NUMBER_INFO");
        assert_eq!(record.severity_text, "INFO");
        assert!(record.time_unix_nano > 0 || record.observed_time_unix_nano > 0);

        let (_, warned) = with_body(&all, "provider slow")[0];
        assert_eq!(hex(&warned.trace_id), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(warned.severity_number, 13, "SEVERITY_NUMBER_WARN");
        let field = |key: &str| {
            warned.attributes.iter().find(|kv| kv.key == key)?.value.as_ref()?.value.clone()
        };
        assert_eq!(field("provider"), Some(any_value::Value::StringValue("deepgram".into())));
        assert_eq!(field("attempt"), Some(any_value::Value::IntValue(2)));

        let outside = with_body(&all, "outside any request");
        assert_eq!(outside.len(), 1);
        assert!(outside[0].1.trace_id.is_empty(), "no trace outside a request");
    });
}

#[test]
fn a_request_the_head_skipped_logs_under_the_trace_id_of_its_response_header() {
    let (endpoint, inbox) = logs_receiver();
    let config = TraceConfig::new("log-tests")
        .policy(
            SamplingPolicy::default().route_ratio("/calls/{id}", 0.0).route_ratio("/spawned", 0.0),
        )
        .otlp_logs_endpoint(endpoint);
    let exporter = InMemorySpanExporter::default();
    let pipeline = TracePipeline::with_exporter(&config, exporter.clone()).expect("pipeline");
    let received = inbox.clone();
    run_with(pipeline, exporter, |ctx: Ctx| async move {
        let addr = serve(app(&ctx.pipeline)).await;
        let response = reqwest::get(format!("http://{addr}/calls/9")).await.expect("request");
        assert_eq!(response.status(), 200);
        let trace_id =
            response.headers()["x-trace-id"].to_str().expect("trace id header").to_owned();
        let response = reqwest::get(format!("http://{addr}/spawned")).await.expect("request");
        assert_eq!(response.status(), 200);
        let spawned_trace_id =
            response.headers()["x-trace-id"].to_str().expect("trace id header").to_owned();
        assert_ne!(spawned_trace_id, trace_id);
        // An unsampled caller: the request is skipped and logs under the caller's trace.
        let response = reqwest::Client::new()
            .get(format!("http://{addr}/calls/10"))
            .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
            .send()
            .await
            .expect("request");
        assert_eq!(response.headers()["x-trace-id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        let arrived = eventually(Duration::from_secs(10), || {
            ctx.pipeline.force_flush();
            let all = records(&received);
            with_body(&all, "transcribed").len() == 2
                && !with_body(&all, "in a spawned task").is_empty()
        })
        .await;
        assert!(arrived, "the log records at the receiver");
        assert!(traces(&ctx).is_empty(), "the skipped request exported no span");
        let all = records(&received);
        let transcribed = with_body(&all, "transcribed");
        let (_, record) =
            transcribed.iter().find(|(_, r)| hex(&r.trace_id) == trace_id).expect("own trace");
        assert_eq!(hex(&record.trace_id), trace_id);
        assert_eq!(record.span_id.len(), 8);
        assert_ne!(hex(&record.span_id), "0000000000000000");
        assert_eq!(record.flags & 0xff, 0, "not sampled");
        // Outside the request's future, the ids come from the request's span.
        let (_, spawned) = with_body(&all, "in a spawned task")[0];
        assert_eq!(hex(&spawned.trace_id), spawned_trace_id);
        assert_eq!(spawned.span_id.len(), 8);
        let (_, caller) = transcribed
            .iter()
            .find(|(_, r)| hex(&r.trace_id) == "4bf92f3577b34da6a3ce929d0e0e4736")
            .expect("the caller's trace");
        // The skipped request's own span id, as in its log lines, not the caller's.
        assert_eq!(caller.span_id.len(), 8);
        assert_ne!(hex(&caller.span_id), "00f067aa0ba902b7");
        assert_eq!(caller.flags & 0xff, 0, "not sampled");
    });
}

#[test]
fn log_export_is_turned_on_by_the_standard_env_variables() {
    let (endpoint, inbox) = logs_receiver();
    let base = endpoint.trim_end_matches("/v1/logs").to_owned();
    let env = |key: &str| match key {
        "OTEL_LOGS_EXPORTER" => Some("otlp".to_owned()),
        "OTEL_EXPORTER_OTLP_ENDPOINT" => Some(base.clone()),
        "OTEL_EXPORTER_OTLP_HEADERS" => Some("x-tenant=acme".to_owned()),
        "OTEL_EXPORTER_OTLP_COMPRESSION" => Some("gzip".to_owned()),
        _ => None,
    };
    // The traces go to the same base (`/v1/traces`, unanswered here: a 404 drops them).
    let config = TraceConfig::new("env-logs").with_env_from(env).expect("env");
    let pipeline = TracePipeline::new(&config).expect("pipeline");
    let received = inbox.clone();
    run_with(pipeline, InMemorySpanExporter::default(), |ctx: Ctx| async move {
        tracing::error!(code = 503, "provider unavailable");
        let arrived = eventually(Duration::from_secs(10), || {
            ctx.pipeline.force_flush();
            !with_body(&records(&received), "provider unavailable").is_empty()
        })
        .await;
        assert!(arrived, "the log record at the receiver");
    });
    let received = inbox.lock().expect("received");
    let (headers, _) = &received[0];
    assert_eq!(headers["x-sent-content-encoding"], "gzip");
    assert_eq!(headers["x-tenant"], "acme");
    assert_eq!(headers["content-type"], "application/x-protobuf");
    drop(received);
    let (service, record) = &with_body(&records(&inbox), "provider unavailable")[0].clone();
    assert_eq!(service, "env-logs");
    assert_eq!(record.severity_number, 17, "SEVERITY_NUMBER_ERROR");

    // Off by default and with `none`; anything else is an error naming the variable.
    let none = TraceConfig::new("x")
        .otlp_logs_endpoint("http://127.0.0.1:4318/v1/logs")
        .with_env_from(|key| (key == "OTEL_LOGS_EXPORTER").then(|| "none".to_owned()))
        .expect("none");
    let pipeline = TracePipeline::new(&none).expect("pipeline");
    assert!(pipeline.log_export_layer::<tracing_subscriber::Registry>().is_none());
    let bad = TraceConfig::new("x")
        .with_env_from(|key| (key == "OTEL_LOGS_EXPORTER").then(|| "syslog".to_owned()));
    assert_eq!(bad.unwrap_err().to_string(), "OTEL_LOGS_EXPORTER: otlp or none (got \"syslog\")");
    let bad = TraceConfig::new("x").otlp_logs_endpoint("collector:4318").validate();
    assert_eq!(
        bad.unwrap_err().to_string(),
        "otlp_logs_endpoint: an http:// or https:// URL (got \"collector:4318\")"
    );
}
