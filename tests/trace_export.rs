//! voxscope-trace's outputs: OTLP http/protobuf to a receiver on loopback, a stuck
//! exporter that must not slow requests, `GET /traces`, log lines with trace ids, and
//! config errors that name the field.

#[path = "trace_common.rs"]
mod common;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Ctx, Logs, app, hex, run, run_with};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData, SpanExporter};
use prost::Message;
use tracing_subscriber::prelude::*;
use voxscope::trace::{LogFormat, SamplingPolicy, TraceConfig, TracePipeline};
use voxscope_tests::{eventually, serve};

fn config(ratio: f64) -> TraceConfig {
    TraceConfig::new("trace-tests").policy(
        SamplingPolicy::default().default_ratio(ratio).route_ratio("/calls/{id}/hangup", 1.0),
    )
}

type Inbox = common::Inbox<ExportTraceServiceRequest>;

/// An OTLP/HTTP receiver of traces on loopback.
fn otlp_receiver() -> (String, Inbox) {
    common::receiver("/v1/traces", "application/x-protobuf", |body| {
        ExportTraceServiceRequest::decode(body).expect("OTLP protobuf")
    })
}

fn spans_received(inbox: &Inbox) -> usize {
    let received = inbox.lock().expect("received");
    received
        .iter()
        .flat_map(|(_, r)| &r.resource_spans)
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum()
}

fn attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

fn string(value: &str) -> Option<any_value::Value> {
    Some(any_value::Value::StringValue(value.to_owned()))
}

#[test]
fn otlp_round_trip_carries_attributes_and_parent_links() {
    let (endpoint, received) = otlp_receiver();
    let pipeline = TracePipeline::new(&config(0.0).otlp_endpoint(endpoint)).expect("pipeline");
    let inbox = Arc::clone(&received);
    run_with(pipeline, InMemorySpanExporter::default(), |ctx: Ctx| async move {
        let addr = serve(app(&ctx.pipeline)).await;
        let response = reqwest::Client::new()
            .get(format!("http://{addr}/calls/7"))
            .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200);
        let arrived = eventually(Duration::from_secs(10), || {
            ctx.pipeline.force_flush();
            spans_received(&inbox) >= 3
        })
        .await;
        assert!(arrived, "three spans at the receiver");
    });

    let requests = received.lock().expect("received");
    let resource_spans: Vec<_> = requests.iter().flat_map(|(_, r)| &r.resource_spans).collect();
    let resource = resource_spans[0].resource.as_ref().expect("resource");
    assert_eq!(attr(&resource.attributes, "service.name").cloned(), string("trace-tests"));
    let spans: Vec<_> =
        resource_spans.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans).collect();
    let request = spans.iter().find(|s| s.name == "GET /calls/{id}").expect("request span");
    let provider = spans.iter().find(|s| s.name == "provider").expect("provider span");
    let stt = spans.iter().find(|s| s.name == "stt.request").expect("stt span");
    assert_eq!(request.kind, 2, "SPAN_KIND_SERVER");
    assert_eq!(hex(&request.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(hex(&request.parent_span_id), "00f067aa0ba902b7");
    assert_eq!(provider.parent_span_id, request.span_id);
    assert_eq!(stt.parent_span_id, provider.span_id);
    assert_eq!(attr(&request.attributes, "http.route").cloned(), string("/calls/{id}"));
    assert_eq!(attr(&request.attributes, "http.request.method").cloned(), string("GET"));
    assert_eq!(attr(&request.attributes, "url.path").cloned(), string("/calls/7"));
    assert_eq!(attr(&request.attributes, "url.scheme").cloned(), string("http"));
    assert_eq!(
        attr(&request.attributes, "http.response.status_code").cloned(),
        Some(any_value::Value::IntValue(200))
    );
    assert_eq!(
        attr(&request.attributes, "voxscope.sampling.decision").cloned(),
        string("kept_parent")
    );
    assert_eq!(attr(&provider.attributes, "provider").cloned(), string("deepgram"));
}

#[test]
fn otlp_export_honours_the_standard_env_variables_and_gzips() {
    let (endpoint, received) = otlp_receiver();
    let base = endpoint.trim_end_matches("/v1/traces").to_owned();
    let env = |key: &str| {
        Some(match key {
            "OTEL_SERVICE_NAME" => "env-service".to_owned(),
            "OTEL_RESOURCE_ATTRIBUTES" => {
                "deployment.environment=staging,service.version=1.2.3,service.name=ignored".into()
            }
            "OTEL_EXPORTER_OTLP_ENDPOINT" => base.clone(),
            "OTEL_EXPORTER_OTLP_HEADERS" => "api-key=s3cr%3Dt%2C1,x-tenant=acme".to_owned(),
            "OTEL_EXPORTER_OTLP_COMPRESSION" => "gzip".to_owned(),
            _ => return None,
        })
    };
    let config = config(1.0).with_env_from(env).expect("env");
    let pipeline = TracePipeline::new(&config).expect("pipeline");
    let inbox = Arc::clone(&received);
    run_with(pipeline, InMemorySpanExporter::default(), |ctx: Ctx| async move {
        let addr = serve(app(&ctx.pipeline)).await;
        let response = reqwest::get(format!("http://{addr}/calls/7")).await.expect("request");
        assert_eq!(response.status(), 200);
        let arrived = eventually(Duration::from_secs(10), || {
            ctx.pipeline.force_flush();
            spans_received(&inbox) >= 3
        })
        .await;
        assert!(arrived, "three spans at the receiver");
    });

    let requests = received.lock().expect("received");
    for (headers, request) in requests.iter() {
        assert_eq!(headers["x-sent-content-encoding"], "gzip");
        assert_eq!(headers["api-key"], "s3cr=t,1", "percent-decoded");
        assert_eq!(headers["x-tenant"], "acme");
        assert_eq!(headers["content-type"], "application/x-protobuf");
        for resource_spans in &request.resource_spans {
            let attributes = &resource_spans.resource.as_ref().expect("resource").attributes;
            // OTEL_SERVICE_NAME wins over a service.name in OTEL_RESOURCE_ATTRIBUTES.
            assert_eq!(attr(attributes, "service.name").cloned(), string("env-service"));
            assert_eq!(attr(attributes, "deployment.environment").cloned(), string("staging"));
            assert_eq!(attr(attributes, "service.version").cloned(), string("1.2.3"));
        }
    }
}

#[test]
fn shutdown_returns_within_its_timeout_when_the_collector_never_answers() {
    // A collector that accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(Mutex::new(Vec::new()));
    {
        let accepted = Arc::clone(&accepted);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                accepted.lock().expect("accepted").push(stream);
            }
        });
    }
    let config = config(1.0).otlp_endpoint(format!("http://{addr}/v1/traces"));
    let pipeline = TracePipeline::new(&config).expect("pipeline");
    let waiting = Arc::clone(&accepted);
    run_with(pipeline, InMemorySpanExporter::default(), |ctx: Ctx| async move {
        let app_addr = serve(app(&ctx.pipeline)).await;
        reqwest::get(format!("http://{app_addr}/calls/7")).await.expect("request");
        // The export is under way: the collector has the connection, and is silent.
        let connected =
            eventually(Duration::from_secs(10), || !waiting.lock().expect("accepted").is_empty())
                .await;
        assert!(connected, "the exporter reached the collector");
        let started = Instant::now();
        let complete = ctx.pipeline.shutdown_with_timeout(Duration::from_millis(500));
        let took = started.elapsed();
        assert!(!complete, "an export was still waiting");
        // The exporter's own request timeout is 5 s: far above the bound asserted.
        assert!(took < Duration::from_millis(2_000), "shutdown took {took:?}");
    });
}

/// An exporter whose endpoint hangs until the test lets it go.
#[derive(Debug)]
struct StuckExporter(Arc<Mutex<mpsc::Receiver<()>>>);

impl SpanExporter for StuckExporter {
    async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
        let _ = self.0.lock().expect("gate").recv();
        Ok(())
    }
}

#[test]
fn stuck_exporter_never_slows_requests_and_drops_are_counted() {
    let (release, gate) = mpsc::channel::<()>();
    let exporter = StuckExporter(Arc::new(Mutex::new(gate)));
    let config = config(1.0).export_queue(64).max_traces(100);
    let pipeline = TracePipeline::with_exporter(&config, exporter).expect("pipeline");
    run_with(pipeline, InMemorySpanExporter::default(), |ctx: Ctx| async move {
        let addr = serve(app(&ctx.pipeline)).await;
        let client = reqwest::Client::new();
        let started = Instant::now();
        for i in 0..2_000 {
            let response =
                client.get(format!("http://{addr}/calls/{i}")).send().await.expect("request");
            assert_eq!(response.status(), 200);
        }
        // A blocking push would never return at all: the exporter is stuck for good.
        assert!(started.elapsed() < Duration::from_secs(60));
        let dropped =
            eventually(Duration::from_secs(10), || ctx.metrics.decision("kept_ratio") >= 2_000.0)
                .await;
        assert!(dropped);
        // 2,000 kept traces of 3 spans; at most the queue (64) and one batch in the
        // exporter's hands escape the count.
        let lost = ctx.metrics.get("voxscope_trace_export_dropped_spans_total");
        assert!(lost >= 6_000.0 - 64.0 - 512.0, "dropped {lost}");
        assert_eq!(ctx.metrics.get("voxscope_trace_buffer_spans"), 0.0);
        drop(release);
    });
}

#[test]
fn traces_route_lists_kept_traces_newest_first() {
    run(config(0.0), |ctx: Ctx| async move {
        let addr = serve(app(&ctx.pipeline).merge(ctx.pipeline.traces_router())).await;
        let client = reqwest::Client::new();
        client.get(format!("http://{addr}/calls/1")).send().await.expect("dropped");
        client.get(format!("http://{addr}/fail")).send().await.expect("error");
        client.post(format!("http://{addr}/calls/2/hangup")).send().await.expect("route");
        assert!(eventually(Duration::from_secs(10), || ctx.pipeline.store().len() == 2).await);

        let body: serde_json::Value = client
            .get(format!("http://{addr}/traces"))
            .send()
            .await
            .expect("traces")
            .json()
            .await
            .expect("json");
        let traces = body["traces"].as_array().expect("array");
        assert_eq!(traces.len(), 2, "{body:#}");
        assert_eq!(traces[0]["kept"], "kept_route");
        assert_eq!(traces[0]["root"], "POST /calls/{id}/hangup");
        assert_eq!(traces[0]["error"], false);
        assert_eq!(traces[1]["kept"], "kept_error");
        assert_eq!(traces[1]["error"], true);
        let spans = traces[1]["spans"].as_array().expect("spans");
        assert_eq!(spans.len(), 3);
        let request = spans.iter().find(|s| s["name"] == "GET /fail").expect("request");
        assert_eq!(request["attributes"]["http.response.status_code"], 502);
        assert_eq!(request["attributes"]["http.route"], "/fail");
        assert_eq!(request["status"], "error");
        assert!(request["duration_ms"].as_f64().is_some_and(|ms| ms >= 0.0));
        let provider = spans.iter().find(|s| s["name"] == "provider").expect("provider");
        assert_eq!(provider["parent_span_id"], request["span_id"]);
        let limited: serde_json::Value = client
            .get(format!("http://{addr}/traces?limit=1"))
            .send()
            .await
            .expect("traces")
            .json()
            .await
            .expect("json");
        assert_eq!(limited["traces"].as_array().map(Vec::len), Some(1));
    });
}

/// Serves `app` with `format` logs and runs `requests` against it; returns what they
/// return, the log lines and the exported spans.
fn logged<T, Fut>(
    format: LogFormat,
    app: fn(&TracePipeline) -> axum::Router,
    requests: impl FnOnce(std::net::SocketAddr) -> Fut,
) -> (T, Vec<String>, Vec<SpanData>)
where
    Fut: std::future::Future<Output = T>,
{
    let exporter = InMemorySpanExporter::default();
    let pipeline =
        Arc::new(TracePipeline::with_exporter(&config(0.0), exporter.clone()).expect("pipeline"));
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::registry().with(pipeline.otel_layer()).with(
        tracing_subscriber::fmt::layer()
            .event_format(pipeline.log_format(format))
            .with_writer(move || writer.clone()),
    );
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let out = tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(async { requests(serve(app(&pipeline)).await).await })
    });
    pipeline.force_flush();
    let spans = exporter.get_finished_spans().expect("spans");
    pipeline.shutdown();
    (out, logs.lines(), spans)
}

/// Requests `/calls/1` (dropped at the head) and `/fail` (kept) with `format` logs;
/// returns their trace ids, the log lines and the kept trace's spans.
fn logged_requests(format: LogFormat) -> (String, String, Vec<String>, Vec<SpanData>) {
    let ((dropped, kept), lines, spans) = logged(format, app, |addr| async move {
        let client = reqwest::Client::new();
        let mut ids = Vec::new();
        for path in ["calls/1", "fail"] {
            let response =
                client.get(format!("http://{addr}/{path}")).send().await.expect("request");
            ids.push(response.headers()["x-trace-id"].to_str().expect("ascii").to_owned());
        }
        (ids[0].clone(), ids[1].clone())
    });
    (dropped, kept, lines, spans)
}

/// A provider span around a warning whose values need escaping and whose fields try to
/// forge the line's own.
fn say_app(pipeline: &TracePipeline) -> axum::Router {
    let say = || async {
        let provider = tracing::info_span!("tts", provider = "eleven labs", kind = "tts");
        provider.in_scope(|| {
            tracing::warn!(
                text = "two\nlines \"quoted\" a=b",
                trace_id = "forged",
                level = "forged",
                chunks = 45,
                "said\nthis"
            );
        });
    };
    axum::Router::new().route("/say", axum::routing::get(say)).layer(pipeline.trace_layer())
}

fn said(format: LogFormat) -> (String, Vec<String>) {
    let (trace_id, lines, _) = logged(format, say_app, |addr| async move {
        let response = reqwest::get(format!("http://{addr}/say")).await.expect("request");
        response.headers()["x-trace-id"].to_str().expect("ascii").to_owned()
    });
    // The client's own debug lines (no filter here) are not the test's.
    (trace_id, lines.into_iter().filter(|l| l.contains("said")).collect())
}

#[test]
fn text_lines_escape_values_and_carry_the_span_fields() {
    let (trace_id, lines) = said(LogFormat::Text);
    assert_eq!(lines.len(), 1, "one event, one line: {lines:#?}");
    let line = &lines[0];
    let expected = format!(
        "] [WARN] [trace-tests] [{trace_id}] said\\nthis text=\"two\\nlines \\\"quoted\\\" a=b\" \
         trace_id=forged level=forged chunks=45 provider=\"eleven labs\" kind=tts"
    );
    assert!(line.ends_with(&expected), "{line}\n{expected}");
}

#[test]
fn json_lines_keep_their_own_fields_authoritative() {
    let (trace_id, lines) = said(LogFormat::Json);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let line: serde_json::Value = serde_json::from_str(&lines[0]).expect("JSON");
    assert_eq!(line["trace_id"], trace_id.as_str());
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["fields.trace_id"], "forged");
    assert_eq!(line["fields.level"], "forged");
    assert_eq!(line["message"], "said\nthis");
    assert_eq!(line["text"], "two\nlines \"quoted\" a=b");
    assert_eq!(line["chunks"], 45);
    assert_eq!(line["provider"], "eleven labs");
    assert_eq!(line["kind"], "tts");
}

#[test]
fn text_log_lines_carry_trace_ids_of_dropped_traces_too() {
    let (dropped, kept, lines, _) = logged_requests(LogFormat::Text);
    let transcribed: Vec<_> = lines.iter().filter(|l| l.contains("transcribed")).collect();
    assert_eq!(transcribed.len(), 2, "{lines:#?}");
    assert!(transcribed[0].contains(&format!("] [INFO] [trace-tests] [{dropped}] transcribed")));
    assert!(transcribed[1].contains(&format!("[{kept}] transcribed")));
    assert!(transcribed[0].starts_with("[20"), "RFC 3339 timestamp first: {}", transcribed[0]);
}

#[test]
fn json_log_lines_carry_trace_and_span_ids() {
    let (dropped, kept, lines, spans) = logged_requests(LogFormat::Json);
    let events: Vec<serde_json::Value> =
        lines.iter().map(|l| serde_json::from_str(l).expect("one JSON object per line")).collect();
    let transcribed: Vec<_> = events.iter().filter(|e| e["message"] == "transcribed").collect();
    assert_eq!(transcribed.len(), 2);
    assert_eq!(transcribed[0]["trace_id"], dropped.as_str());
    assert_eq!(transcribed[0]["span_id"].as_str().map(str::len), Some(16));
    assert_eq!(transcribed[1]["trace_id"], kept.as_str());
    assert_eq!(transcribed[1]["service"], "trace-tests");
    assert_eq!(transcribed[1]["level"], "INFO");
    // The kept line names its request's OpenTelemetry span.
    let request = spans.iter().find(|s| s.name == "GET /fail").expect("request span");
    assert_eq!(transcribed[1]["span_id"], request.span_context.span_id().to_string());
}

#[test]
fn config_errors_name_the_field_and_install_nothing() {
    let cases = [
        (config(1.5), "default_ratio"),
        (
            TraceConfig::new("x").policy(SamplingPolicy::default().route_ratio("/a", -0.1)),
            "route_ratio[/a]",
        ),
        (config(0.1).max_traces(0), "max_traces"),
        (config(0.1).max_spans_per_trace(0), "max_spans_per_trace"),
        (config(0.1).max_wait(Duration::ZERO), "max_wait"),
        (config(0.1).export_queue(0), "export_queue"),
        (config(0.1).otlp_endpoint("collector:4318"), "otlp_endpoint"),
        (config(0.1).otlp_endpoint("ftp://collector/v1/traces"), "otlp_endpoint"),
    ];
    for (config, field) in cases {
        let error = voxscope::init_tracing(config).expect_err(field);
        assert!(error.to_string().starts_with(field), "{error}");
    }
    let env = TraceConfig::new("x")
        .with_env_from(|key| (key == "OTEL_TRACES_SAMPLER_ARG").then(|| "a lot".to_owned()));
    let error = env.expect_err("not a number");
    assert!(error.to_string().contains("OTEL_TRACES_SAMPLER_ARG"), "{error}");
    // Nothing was installed: a subscriber can still be set here.
    assert!(tracing::subscriber::set_global_default(tracing_subscriber::registry()).is_ok());
}

#[test]
fn client_address_is_recorded_when_asked_for() {
    run(config(1.0), |ctx: Ctx| async move {
        let layer = ctx
            .pipeline
            .trace_layer_builder()
            .record_client_address(true)
            .response_header("x-request-trace")
            .build()
            .expect("layer");
        let app = axum::Router::new()
            .route("/calls/{id}", axum::routing::get(|| async { "ok" }))
            .layer(layer);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
            axum::serve(listener, app).await.expect("server");
        });
        let response = reqwest::get(format!("http://{addr}/calls/1")).await.expect("request");
        assert!(response.headers().contains_key("x-request-trace"));
        let mut kept = Default::default();
        assert!(
            eventually(Duration::from_secs(10), || {
                kept = common::traces(&ctx);
                kept.len() == 1
            })
            .await
        );
        let spans = kept.values().next().expect("one trace");
        let request = common::root(spans);
        assert_eq!(common::attribute(request, "client.address").as_deref(), Some("127.0.0.1"));
    });
}

#[test]
fn traces_route_takes_a_token_hides_caller_ids_and_caps_its_size() {
    run(config(1.0), |ctx: Ctx| async move {
        let call = || async {
            let span =
                tracing::info_span!("voice_call", call.id = "CA-secret-1", call.from = "+15550100");
            span.in_scope(|| tracing::info!(call.id = "CA-secret-1", "call started"));
        };
        let guarded = ctx.pipeline.traces_route().bearer_token("s3cret").router();
        let open = ctx.pipeline.traces_route().show_caller_ids(true).max_bytes(4_000).router();
        let app = axum::Router::new()
            .route("/calls/{id}", axum::routing::get(call))
            .layer(ctx.pipeline.trace_layer());
        let guarded = serve(app.clone().merge(guarded)).await;
        let open = serve(open).await;
        let client = reqwest::Client::new();
        for n in 0..20 {
            client.get(format!("http://{guarded}/calls/{n}")).send().await.expect("request");
        }
        assert!(eventually(Duration::from_secs(10), || ctx.pipeline.store().len() == 20).await);

        let traces = |addr, token: Option<&str>| {
            let mut request = client.get(format!("http://{addr}/traces?limit=20"));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            request.send()
        };
        for token in [None, Some("wrong"), Some("s3cre")] {
            let refused = traces(guarded, token).await.expect("request");
            assert_eq!(refused.status(), 401, "{token:?}");
            assert_eq!(refused.headers()["www-authenticate"], "Bearer");
        }
        let lower =
            client.get(format!("http://{guarded}/traces")).header("authorization", "bearer s3cret");
        assert_eq!(lower.send().await.expect("request").status(), 200, "any case of the scheme");
        let allowed = traces(guarded, Some("s3cret")).await.expect("request");
        assert_eq!(allowed.status(), 200);
        assert_eq!(allowed.headers()["content-type"], "application/json");
        let body = allowed.text().await.expect("body");
        let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(json["traces"].as_array().map(Vec::len), Some(20));
        assert_eq!(json["truncated"], false);
        assert!(body.contains("voice_call") && body.contains("call started"));
        assert!(!body.contains("CA-secret-1") && !body.contains("+15550100"), "{body}");

        let capped = traces(open, None).await.expect("request").text().await.expect("body");
        assert!(capped.len() <= 4_000, "{} bytes", capped.len());
        let json: serde_json::Value = serde_json::from_str(&capped).expect("JSON");
        let shown = json["traces"].as_array().map_or(0, Vec::len);
        assert!((1..20).contains(&shown), "{shown} traces");
        assert_eq!(json["truncated"], true);
        assert!(capped.contains("CA-secret-1") && capped.contains("+15550100"));
    });
}

#[test]
fn a_slow_traces_render_does_not_block_other_requests() {
    let config = config(1.0).max_spans_per_trace(100_000).max_buffered_spans(100_000);
    run(config, |ctx: Ctx| async move {
        let busy = || async {
            for step in 0..5_000 {
                tracing::info_span!("step", step, provider = "deepgram").in_scope(|| ());
            }
        };
        let app = axum::Router::new()
            .route("/busy", axum::routing::get(busy))
            .route("/health", axum::routing::get(|| async { "ok" }))
            .layer(ctx.pipeline.trace_layer())
            .merge(ctx.pipeline.traces_router());
        let addr = serve(app).await;
        for _ in 0..4 {
            reqwest::get(format!("http://{addr}/busy")).await.expect("request");
        }
        let store = ctx.pipeline.store();
        assert!(eventually(Duration::from_secs(30), || store.len() == 4).await);
        let render_time = tokio::task::spawn_blocking(move || {
            let start = Instant::now();
            drop(store.to_json(50));
            start.elapsed()
        })
        .await
        .expect("render");
        assert!(render_time > Duration::from_millis(100), "render took only {render_time:?}");

        // This runtime has one thread: if the render ran on it, /health would wait.
        let started = Instant::now();
        let render = tokio::spawn(async move {
            let body = reqwest::get(format!("http://{addr}/traces")).await.expect("traces");
            let bytes = body.bytes().await.expect("body").len();
            (Instant::now(), bytes)
        });
        tokio::time::sleep(render_time / 4).await;
        let health = reqwest::get(format!("http://{addr}/health")).await.expect("health");
        assert_eq!(health.text().await.expect("body"), "ok");
        let health_done = Instant::now();
        let (render_done, bytes) = render.await.expect("task");
        assert!(bytes > 1_000_000, "{bytes} bytes");
        assert!(
            health_done < render_done,
            "/health answered {:?} after start, /traces {:?}",
            health_done - started,
            render_done - started
        );
    });
}
