//! Shared by the trace_* tests: a pipeline on the SDK's in-memory exporter, a
//! thread-local subscriber and recorder, and a demo app with nested spans.

#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use tower_http::catch_panic::CatchPanicLayer;
use tracing::Instrument;
use tracing_subscriber::prelude::*;
use voxscope::trace::{TraceConfig, TracePipeline};

/// What a test body gets.
pub struct Ctx {
    pub pipeline: Arc<TracePipeline>,
    pub exporter: InMemorySpanExporter,
    pub metrics: Metrics,
}

/// Counter totals across snapshots (a snapshot drains counters) and last gauge values.
pub struct Metrics {
    snapshotter: Snapshotter,
    totals: std::sync::Mutex<HashMap<String, f64>>,
}

impl Metrics {
    /// `name` or `name{key=value}` (one label at most here).
    pub fn get(&self, key: &str) -> f64 {
        let mut totals = self.totals.lock().expect("totals");
        for (composite, _, _, value) in self.snapshotter.snapshot().into_vec() {
            let k = composite.key();
            let mut name = k.name().to_owned();
            if let Some(label) = k.labels().next() {
                name = format!("{name}{{{}={}}}", label.key(), label.value());
            }
            match value {
                DebugValue::Counter(n) => *totals.entry(name).or_default() += n as f64,
                DebugValue::Gauge(g) => {
                    totals.insert(name, g.into_inner());
                }
                DebugValue::Histogram(_) => {}
            }
        }
        totals.get(key).copied().unwrap_or(0.0)
    }

    pub fn decision(&self, decision: &str) -> f64 {
        self.get(&format!("voxscope_traces_total{{decision={decision}}}"))
    }
}

/// Runs `test` on a current-thread runtime with the pipeline's subscriber and a fresh
/// recorder as this thread's defaults: nothing global is touched.
pub fn run<F, Fut>(config: TraceConfig, test: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()>,
{
    let exporter = InMemorySpanExporter::default();
    let pipeline = TracePipeline::with_exporter(&config, exporter.clone()).expect("pipeline");
    run_with(pipeline, exporter, test);
}

pub fn run_with<F, Fut>(pipeline: TracePipeline, exporter: InMemorySpanExporter, test: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()>,
{
    let recorder = DebuggingRecorder::new();
    let metrics = Metrics { snapshotter: recorder.snapshotter(), totals: Default::default() };
    let pipeline = Arc::new(pipeline);
    let subscriber = tracing_subscriber::registry()
        .with(pipeline.otel_layer())
        .with(pipeline.log_export_layer());
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let ctx = Ctx { pipeline: Arc::clone(&pipeline), exporter, metrics };
    metrics::with_local_recorder(&recorder, || {
        tracing::subscriber::with_default(subscriber, || runtime.block_on(test(ctx)))
    });
    pipeline.shutdown();
}

/// Routes that behave like a voice service's: provider spans nested in the request.
pub fn app(pipeline: &TracePipeline) -> Router {
    Router::new()
        .route("/calls/{id}", get(|| with_children(StatusCode::OK)))
        .route("/calls/{id}/hangup", post(|| with_children(StatusCode::OK)))
        .route("/health", get(|| async { "ok" }))
        .route("/fail", get(|| with_children(StatusCode::BAD_GATEWAY)))
        .route("/missing", get(|| with_children(StatusCode::NOT_FOUND)))
        .route("/error", get(handler_error))
        .route("/panic", get(panicking))
        .route("/slow", get(slow))
        .layer(pipeline.trace_layer())
        .layer(CatchPanicLayer::new())
}

/// Two nested spans, as voxscope-provider would create them inside the request.
pub async fn children() {
    let provider = tracing::info_span!("provider", provider = "deepgram");
    async {
        let _request = tracing::info_span!("stt.request").entered();
        tracing::info!("transcribed");
    }
    .instrument(provider)
    .await;
}

async fn with_children(status: StatusCode) -> StatusCode {
    children().await;
    status
}

#[derive(Debug)]
struct AppError;

impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        tracing::error!(error = "provider unavailable", "request failed");
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    }
}

async fn handler_error() -> Result<&'static str, AppError> {
    children().await;
    Err(AppError)
}

async fn panicking() -> &'static str {
    children().await;
    panic!("handler panicked on purpose")
}

/// Far above scheduler noise: the tests use a 500 ms threshold, which a fast request
/// would have to miss by hundreds of milliseconds.
pub const SLOW: Duration = Duration::from_millis(1_500);

async fn slow() -> &'static str {
    children().await;
    tokio::time::sleep(SLOW).await;
    "slow"
}

/// Finished spans, grouped by trace, after a flush.
pub fn traces(ctx: &Ctx) -> HashMap<TraceId, Vec<SpanData>> {
    ctx.pipeline.force_flush();
    let mut traces: HashMap<TraceId, Vec<SpanData>> = HashMap::new();
    for span in ctx.exporter.get_finished_spans().expect("spans") {
        traces.entry(span.span_context.trace_id()).or_default().push(span);
    }
    traces
}

/// The request (local root) span of a trace.
pub fn root(spans: &[SpanData]) -> &SpanData {
    spans
        .iter()
        .find(|s| s.parent_span_id == SpanId::INVALID || s.parent_span_is_remote)
        .expect("a local root")
}

/// A string or integer attribute of a span, as a string.
pub fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.to_string())
}

/// The trace is whole: request, provider and stt.request, linked parent to child.
pub fn assert_whole(spans: &[SpanData]) {
    let request = root(spans);
    let provider = spans.iter().find(|s| s.name == "provider").expect("provider span");
    let stt = spans.iter().find(|s| s.name == "stt.request").expect("stt span");
    assert_eq!(provider.parent_span_id, request.span_context.span_id());
    assert_eq!(stt.parent_span_id, provider.span_context.span_id());
    assert_eq!(spans.iter().filter(|s| s.name != "probe").count(), 3, "{spans:#?}");
}

/// Polls until `n` traces have been exported (request spans end when the server has
/// finished the body, a moment after the client read it).
pub async fn wait_for_traces(ctx: &Ctx, n: usize) -> HashMap<TraceId, Vec<SpanData>> {
    let mut found = HashMap::new();
    voxscope_tests::eventually(Duration::from_secs(10), || {
        found = traces(ctx);
        found.len() >= n
    })
    .await;
    found
}

/// What a loopback receiver got: each request's headers (`x-sent-content-encoding`
/// holds the `content-encoding` as sent, before decompression) and decoded body.
pub type Inbox<T> = Arc<std::sync::Mutex<Vec<(axum::http::HeaderMap, T)>>>;

/// An HTTP receiver for POSTs to `path` on its own thread and runtime (an exporter's
/// thread posts to it while the test thread waits), answering 200 with `content_type`.
/// Gzipped bodies are inflated by tower-http, as a collector's HTTP server would.
/// Returns the URL of `path` and what arrived, decoded by `decode`.
pub fn receiver<T: Send + 'static>(
    path: &'static str,
    content_type: &'static str,
    decode: fn(axum::body::Bytes) -> T,
) -> (String, Inbox<T>) {
    let received: Inbox<T> = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let sink = Arc::clone(&received);
    std::thread::spawn(move || {
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let router = Router::new()
                .route(
                    path,
                    post(
                        move |headers: axum::http::HeaderMap, body: axum::body::Bytes| async move {
                            sink.lock().expect("sink").push((headers, decode(body)));
                            [("content-type", content_type)]
                        },
                    ),
                )
                .layer(tower_http::decompression::RequestDecompressionLayer::new())
                .layer(axum::middleware::map_request(
                    |mut request: axum::extract::Request| async {
                        let sent = request.headers().get("content-encoding").cloned();
                        if let Some(encoding) = sent {
                            request.headers_mut().insert("x-sent-content-encoding", encoding);
                        }
                        request
                    },
                ));
            let addr = voxscope_tests::serve(router).await;
            addr_tx.send(addr).expect("addr");
            std::future::pending::<()>().await;
        });
    });
    let addr = addr_rx.recv().expect("receiver address");
    (format!("http://{addr}{path}"), received)
}

/// Lowercase hex of an id's bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Log lines written by a `tracing_subscriber::fmt` layer, for assertions.
#[derive(Clone, Default)]
pub struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("logs").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    pub fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().expect("logs")).lines().map(str::to_owned).collect()
    }
}
