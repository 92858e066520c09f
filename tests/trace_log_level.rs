//! `RUST_LOG=warn` quiets the logs, not the tracing: in a process of its own (the
//! subscriber is global), requests and calls are still sampled, their warnings (and the
//! `log` crate's, bridged) carry their trace ids, and kept traces still reach `/traces`.

use std::process::Command;
use std::time::Duration;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::response::Response;
use axum::routing::{any, get};
use futures_util::StreamExt;
use voxscope::call::{Call, CallLayer, Protocol};
use voxscope::trace::{SamplingPolicy, TraceConfig};
use voxscope_tests::{eventually, serve};

const CHILD: &str = "VOXSCOPE_TRACE_LOG_LEVEL_CHILD";
const TEST: &str = "warn_level_keeps_spans_trace_ids_and_kept_traces";

async fn media(ws: WebSocketUpgrade, call: Call) -> Response {
    ws.on_upgrade(move |socket| {
        call.serve(socket, |_socket, _call| async {
            println!("CALL {}", voxscope::trace::current_trace_id().unwrap_or_default());
            tracing::warn!("call warning");
        })
    })
}

/// The service, run by the child process at `RUST_LOG=warn`; what it learnt goes to
/// stdout, its logs to stderr.
async fn child() {
    let policy = SamplingPolicy::default().default_ratio(0.0).route_ratio("/kept", 1.0);
    let guard = voxscope::init_tracing(TraceConfig::new("log-level").policy(policy)).expect("init");
    let pipeline = guard.pipeline();
    let calls = CallLayer::builder(Protocol::Twilio).build().expect("call layer");
    let app = Router::new()
        .route(
            "/kept",
            get(|| async {
                tracing::info!("hidden info");
                tracing::warn!("kept warning");
                log::warn!("bridged warning");
                log::info!("hidden bridged info");
                "kept"
            }),
        )
        .route("/dropped", get(|| async { tracing::warn!("dropped warning") }))
        .route("/media", any(media))
        .layer(calls)
        .layer(pipeline.trace_layer());
    let addr = serve(app).await;
    // The most verbose `log` records anything wants: the span level (info), where they
    // may become span events. Debug and trace ones stop at the `log` crate's own level
    // check, built for no one.
    println!("LOG_MAX {}", log::max_level());
    let client = reqwest::Client::new();
    for path in ["kept", "dropped"] {
        let response = client.get(format!("http://{addr}/{path}")).send().await.expect("request");
        println!("HEADER {path} {}", response.headers()["x-trace-id"].to_str().expect("ascii"));
    }
    let (mut ws, upgrade) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/media")).await.expect("ws");
    println!("HEADER media {}", upgrade.headers()["x-trace-id"].to_str().expect("ascii"));
    while ws.next().await.is_some_and(|frame| frame.is_ok()) {}
    let store = pipeline.store();
    assert!(eventually(Duration::from_secs(10), || !store.is_empty()).await);
    for trace in store.traces(10) {
        println!("STORED {} {}", trace.trace_id, trace.decision.as_str());
    }
}

fn value<'a>(stdout: &'a str, prefix: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|line| line.split_once(prefix).map(|(_, value)| value))
        .unwrap_or_else(|| panic!("no {prefix:?} in {stdout}"))
}

fn bracketed_trace_id(line: &str) -> &str {
    // [TIMESTAMP] [LEVEL] [SERVICE] [TRACE_ID] message
    line.split("] [").nth(3).and_then(|rest| rest.split(']').next()).expect("trace id field")
}

#[test]
fn warn_level_keeps_spans_trace_ids_and_kept_traces() {
    if std::env::var_os(CHILD).is_some() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(child());
        return;
    }
    let output = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env("RUST_LOG", "warn")
        .output()
        .expect("child process");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed:\n{stdout}\n{stderr}");

    assert_eq!(value(&stdout, "LOG_MAX "), "INFO");
    let kept = value(&stdout, "HEADER kept ");
    let dropped = value(&stdout, "HEADER dropped ");
    let upgrade = value(&stdout, "HEADER media ");
    let call = value(&stdout, "CALL ");
    for id in [kept, dropped, upgrade, call] {
        assert_eq!(id.len(), 32, "{id:?}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id:?}");
    }
    // A call is a trace of its own.
    assert_ne!(call, upgrade);

    let line = |message: &str| {
        stderr
            .lines()
            .find(|line| line.contains(&format!("] {message}")))
            .unwrap_or_else(|| panic!("no {message:?} line in {stderr}"))
    };
    assert_eq!(bracketed_trace_id(line("kept warning")), kept);
    assert_eq!(bracketed_trace_id(line("dropped warning")), dropped);
    assert_eq!(bracketed_trace_id(line("call warning")), call);
    // A `log` record, bridged, in the request it happened in.
    assert_eq!(bracketed_trace_id(line("bridged warning")), kept);
    assert!(line("bridged warning").ends_with("] bridged warning"));
    // Fields of the span the line is in: the call's.
    assert!(line("call warning").contains(" transport=twilio"), "{stderr}");
    assert!(line("kept warning").contains("] [WARN] [log-level] ["));
    // The filter still quiets the logs.
    assert!(!stderr.contains("hidden info"), "{stderr}");
    assert!(!stderr.contains("hidden bridged info"), "{stderr}");
    assert!(!stderr.contains("call started"), "{stderr}");

    // Spans existed: the kept trace was sampled and stored; nothing else was kept.
    let stored: Vec<&str> =
        stdout.lines().filter_map(|l| l.split_once("STORED ").map(|(_, v)| v)).collect();
    assert_eq!(stored, [format!("{kept} kept_route")]);
}
