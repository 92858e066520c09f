//! One span per call, a root of its own that follows from the upgrade request's span;
//! two log lines per call; ids on spans and logs, never on labels; a call of minutes
//! traced whole by voxscope-trace.

#[path = "trace_common.rs"]
mod common;

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::Request;
use axum::response::Response;
use axum::routing::any;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite;
use tower::ServiceExt;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Instrument, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use voxscope::call::{Call, CallLayer, Protocol};
use voxscope_tests::{
    Exposition, eventually, serve, with_local_prometheus, with_local_prometheus_paused,
};

type Fields = HashMap<String, String>;

#[derive(Debug, Clone)]
struct Captured {
    name: String,
    parent: Option<String>,
    follows: Vec<String>,
    fields: Fields,
}

#[derive(Clone, Default)]
struct Capture {
    spans: Arc<Mutex<HashMap<u64, Captured>>>,
    events: Arc<Mutex<Vec<Captured>>>,
}

struct Collect<'a>(&'a mut Fields);

impl Visit for Collect<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let parent = ctx.span(id).and_then(|s| s.parent()).map(|p| p.name().to_owned());
        let mut fields = Fields::new();
        attrs.record(&mut Collect(&mut fields));
        let name = attrs.metadata().name().to_owned();
        let span = Captured { name, parent, follows: Vec::new(), fields };
        self.spans.lock().unwrap().insert(id.into_u64(), span);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        if let Some(span) = self.spans.lock().unwrap().get_mut(&id.into_u64()) {
            values.record(&mut Collect(&mut span.fields));
        }
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: Context<'_, S>) {
        let name = ctx.span(follows).map(|s| s.name().to_owned()).unwrap_or_default();
        if let Some(span) = self.spans.lock().unwrap().get_mut(&id.into_u64()) {
            span.follows.push(name);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let parent = ctx.event_span(event).map(|s| s.name().to_owned());
        let mut fields = Fields::new();
        event.record(&mut Collect(&mut fields));
        let event = Captured { name: String::new(), parent, follows: Vec::new(), fields };
        self.events.lock().unwrap().push(event);
    }
}

async fn refuse(_call: Call) -> &'static str {
    "no upgrade"
}

async fn media(ws: WebSocketUpgrade, call: Call) -> Response {
    ws.on_upgrade(move |socket| call.serve(socket, |_socket, _call| async {}))
}

#[test]
fn each_call_has_one_root_span_linked_to_the_request_span_and_two_log_lines() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let _default = tracing::subscriber::set_default(subscriber);
    let handle = with_local_prometheus(|_| async move {
        let layer = CallLayer::builder(Protocol::Twilio)
            .call_id_header("x-call-id")
            .build()
            .expect("layer");
        let app = Router::new()
            .route("/media", any(media))
            .route("/refuse", any(refuse))
            .layer(layer)
            .with_state(());
        for (path, id) in [("/refuse", "CA-span-1"), ("/media", "CA-span-2")] {
            let request = Request::get(path)
                .header("x-call-id", id)
                .header("connection", "upgrade")
                .header("upgrade", "websocket")
                .body(Body::empty())
                .unwrap();
            let response = app
                .clone()
                .oneshot(request)
                .instrument(tracing::info_span!("request", path))
                .await
                .unwrap();
            assert!(response.status().is_success() || response.status().is_client_error());
        }
    });

    let spans: Vec<Captured> = capture.spans.lock().unwrap().values().cloned().collect();
    let calls: Vec<&Captured> = spans.iter().filter(|s| s.name == "voice_call").collect();
    assert_eq!(calls.len(), 2, "{spans:?}");
    for call in &calls {
        // Its own trace: a request span held open for a whole call would hold its trace's
        // tail decision open as long.
        assert_eq!(call.parent, None);
        assert_eq!(call.follows, ["request"]);
        assert_eq!(call.fields["transport"], "twilio");
        assert_eq!(call.fields["outcome"], "rejected");
        assert!(call.fields.contains_key("duration_s"));
    }
    let mut ids: Vec<&str> = calls.iter().map(|c| c.fields["call.id"].as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["CA-span-1", "CA-span-2"]);

    let events = capture.events.lock().unwrap().clone();
    let lines: Vec<&Captured> =
        events.iter().filter(|e| e.parent.as_deref() == Some("voice_call")).collect();
    let messages: Vec<&str> = lines.iter().map(|e| e.fields["message"].as_str()).collect();
    assert_eq!(messages.iter().filter(|m| **m == "call started").count(), 2);
    assert_eq!(messages.iter().filter(|m| **m == "call ended").count(), 2);
    assert_eq!(lines.len(), 4, "two lines per call, nothing else: {messages:?}");
    let ended = lines.iter().find(|e| e.fields["message"] == "call ended").unwrap();
    for field in ["outcome", "duration_s", "frames_in", "frames_out", "audio_in_s", "turns"] {
        assert!(ended.fields.contains_key(field), "{field} missing from {ended:?}");
    }

    let exposition = Exposition::render(&handle);
    assert!(!exposition.text.contains("CA-span"), "a call id reached a label");
    assert_eq!(exposition.sum("voice_calls_total", &[("outcome", "rejected")]), 2.0);
}

/// A minute-long call: two LLM turns, a TTS failure at 45 s, hung up at 60 s.
async fn minute_long_agent(ws: WebSocketUpgrade, call: Call) -> Response {
    ws.on_upgrade(move |socket| {
        call.serve(socket, |socket, _call| async move {
            // Held open for the minute.
            let _socket = socket;
            for turn in 1..=2 {
                tokio::time::sleep(Duration::from_secs(15)).await;
                tracing::info_span!("llm.request", turn).in_scope(|| tracing::info!("answered"));
            }
            tokio::time::sleep(Duration::from_secs(15)).await;
            tracing::info_span!("tts.request", turn = 3)
                .in_scope(|| tracing::error!(error = "voice unavailable", "synthesis failed"));
            tokio::time::sleep(Duration::from_secs(15)).await;
        })
    })
}

/// Reads the caller until the stream ends.
async fn listen(ws: WebSocketUpgrade, call: Call) -> Response {
    ws.on_upgrade(move |socket| {
        call.serve(socket, |mut socket, _call| async move {
            while let Some(Ok(_)) = socket.next().await {}
        })
    })
}

/// Real time on purpose: the tail buffer's clock is the process's, which a paused
/// tokio clock does not move.
#[test]
fn a_minute_long_call_that_fails_at_45_s_is_kept_whole_without_overflow() {
    use common::{Ctx, attribute};
    use futures_util::StreamExt;
    use voxscope::trace::{SamplingPolicy, TraceConfig};

    // The defaults a service starts with: one request in ten traced, errors kept.
    let config = TraceConfig::new("calls").policy(SamplingPolicy::default());
    common::run(config, |ctx: Ctx| async move {
        let layer = CallLayer::builder(Protocol::Twilio).build().expect("layer");
        let app = Router::new()
            .route("/media", any(minute_long_agent))
            .layer(layer)
            .layer(ctx.pipeline.trace_layer());
        let addr = voxscope_tests::serve(app).await;
        let started = std::time::Instant::now();
        let (mut ws, upgrade) =
            tokio_tungstenite::connect_async(format!("ws://{addr}/media")).await.expect("ws");
        let upgrade_trace = upgrade.headers()["x-trace-id"].to_str().expect("ascii").to_owned();
        while ws.next().await.is_some_and(|frame| frame.is_ok()) {}
        assert!(started.elapsed() >= Duration::from_secs(60));

        let store = ctx.pipeline.store();
        let kept = voxscope_tests::eventually(Duration::from_secs(10), || {
            store.traces(10).iter().any(|t| t.spans.iter().any(|s| s.name == "voice_call"))
        })
        .await;
        assert!(kept, "the call's trace was kept");
        let traces = store.traces(10);
        let call = traces
            .iter()
            .find(|t| t.spans.iter().any(|s| s.name == "voice_call"))
            .expect("call trace");
        assert_eq!(call.decision.as_str(), "kept_error");
        let mut names: Vec<&str> = call.spans.iter().map(|s| s.name.as_ref()).collect();
        names.sort_unstable();
        assert_eq!(names, ["llm.request", "llm.request", "tts.request", "voice_call"]);
        let root = call.spans.iter().find(|s| s.name == "voice_call").expect("call span");
        for span in call.spans.iter().filter(|s| s.name != "voice_call") {
            assert_eq!(span.parent_span_id, root.span_context.span_id(), "{}", span.name);
        }
        let lasted = root.end_time.duration_since(root.start_time).expect("ordered");
        assert!(lasted >= Duration::from_secs(60), "{lasted:?}");
        assert_eq!(attribute(root, "voxscope.sampling.decision").as_deref(), Some("kept_error"));
        // Its own trace, linked to the upgrade request's.
        assert_ne!(call.trace_id.to_string(), upgrade_trace);
        let links: Vec<String> =
            root.links.iter().map(|l| l.span_context.trace_id().to_string()).collect();
        assert_eq!(links, [upgrade_trace]);

        assert_eq!(ctx.metrics.get("voxscope_trace_buffer_overflow_total"), 0.0);
        assert_eq!(ctx.metrics.get("voxscope_trace_buffer_spans"), 0.0);
        assert_eq!(ctx.metrics.decision("kept_error"), 1.0);
    });
}

const START: &str = r#"{"event":"start","sequenceNumber":"1","streamSid":"MZidle","start":{"callSid":"CAidle","mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}"#;

fn media_frame(n: u64) -> tungstenite::Message {
    let payload = "/".repeat(212) + "/w==";
    tungstenite::Message::text(format!(
        r#"{{"event":"media","sequenceNumber":"{n}","media":{{"track":"inbound","chunk":"{n}","timestamp":"{}","payload":"{payload}"}},"streamSid":"MZidle"}}"#,
        n * 20
    ))
}

#[test]
fn a_peer_that_goes_silent_without_closing_is_dropped_at_the_idle_timeout() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let _default = tracing::subscriber::set_default(subscriber);
    // Real time, with margins far above scheduler noise: a 2 s timeout against frames
    // every 250 ms.
    let handle = with_local_prometheus(|_| async move {
        let layer = CallLayer::builder(Protocol::Twilio)
            .idle_timeout(Duration::from_secs(2))
            .build()
            .expect("layer");
        let app = Router::new().route("/media", any(listen)).route_layer(layer.clone());
        let addr = serve(app).await;
        let url = format!("ws://{addr}/media");
        // Half-open: sends a little, then neither reads nor writes nor closes.
        let (mut silent, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("ws");
        silent.send(tungstenite::Message::text(START)).await.expect("start");
        silent.send(media_frame(2)).await.expect("media");
        // Alive: a frame every 250 ms for 5 s, then Twilio's stop and a close.
        let (mut alive, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("ws");
        alive.send(tungstenite::Message::text(START)).await.expect("start");
        for n in 0..20 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            alive.send(media_frame(n + 2)).await.expect("alive until its own stop");
        }
        assert_eq!(layer.active_calls(), 1, "the silent call was ended, the live one was not");
        let stop = r#"{"event":"stop","sequenceNumber":"99","stop":{"callSid":"CAidle"}}"#;
        alive.send(tungstenite::Message::text(stop)).await.expect("stop");
        alive.close(None).await.expect("close");
        assert!(eventually(Duration::from_secs(10), || layer.active_calls() == 0).await);
        drop(silent);
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(exposition.sum("voice_calls_total", &[("outcome", "dropped")]), 1.0);
    assert_eq!(exposition.sum("voice_calls_total", &[("outcome", "completed")]), 1.0);
    assert_eq!(exposition.sum("voice_calls_active", &[]), 0.0);
    let events = capture.events.lock().unwrap().clone();
    let ended: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e.fields.get("message").map(String::as_str) == Some("call ended"))
        .map(|e| (e.fields["outcome"].as_str(), e.fields["end"].as_str()))
        .collect();
    assert_eq!(ended.len(), 2, "{ended:?}");
    assert!(ended.contains(&("dropped", "idle_timeout")), "{ended:?}");
    assert!(ended.contains(&("completed", "stop")), "{ended:?}");
}

#[test]
fn a_peer_that_stops_answering_pings_ends_dropped_with_the_reason_and_its_mean_round_trip() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let _default = tracing::subscriber::set_default(subscriber);
    // A paused clock: the round trips are exact.
    let handle = with_local_prometheus_paused(|_| async move {
        let layer = CallLayer::builder(Protocol::Twilio)
            .ping_keepalive(Duration::from_secs(5), 3)
            .build()
            .expect("layer");
        let app = Router::new().route("/media", any(listen)).route_layer(layer.clone());
        let addr = serve(app).await;
        let url = format!("ws://{addr}/media");
        let (mut caller, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("ws");
        caller.send(tungstenite::Message::text(START)).await.expect("start");
        // Answers two pings, 30 ms and 50 ms late, then reads no more.
        for late in [30, 50] {
            while !matches!(caller.next().await, Some(Ok(tungstenite::Message::Ping(_)))) {}
            tokio::time::sleep(Duration::from_millis(late)).await;
            caller.flush().await.expect("pong");
        }
        assert!(eventually(Duration::from_secs(60), || layer.active_calls() == 0).await);
        drop(caller);
    });
    let exposition = Exposition::render(&handle);
    assert_eq!(exposition.sum("voice_calls_total", &[("outcome", "dropped")]), 1.0);
    let events = capture.events.lock().unwrap().clone();
    let ended: Vec<&Fields> = events
        .iter()
        .filter(|e| e.fields.get("message").map(String::as_str) == Some("call ended"))
        .map(|e| &e.fields)
        .collect();
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(ended[0]["outcome"], "dropped");
    assert_eq!(ended[0]["end"], "ping_timeout");
    let mean: f64 = ended[0]["mean_ping_rtt_s"].parse().expect("a number");
    assert!((mean - 0.04).abs() < 1e-9, "{mean}");
}

#[test]
fn a_shed_call_costs_no_span_and_no_log_line_of_its_own() {
    const SHED: usize = 50;
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let _default = tracing::subscriber::set_default(subscriber);
    let handle = with_local_prometheus(|_| async move {
        let layer = CallLayer::builder(Protocol::Twilio).max_calls(1).build().expect("layer");
        let held = layer.open_call(Some("CA-held")).expect("the one slot");
        let app = Router::new().route("/media", any(media)).route_layer(layer.clone());
        for _ in 0..SHED {
            let request = Request::get("/media")
                .header("connection", "upgrade")
                .header("upgrade", "websocket")
                .body(Body::empty())
                .unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), 503);
        }
        drop(held);
    });
    let exposition = Exposition::render(&handle);
    let rejected = exposition.sum("voice_calls_total", &[("outcome", "rejected")]);
    // The held call was never upgraded either: rejected too, with its own span.
    assert_eq!(rejected, (SHED + 1) as f64);
    let spans = capture.spans.lock().unwrap();
    assert_eq!(spans.values().filter(|s| s.name == "voice_call").count(), 1, "the held call's");
    let events = capture.events.lock().unwrap();
    let message = |e: &&Captured| e.fields.get("message").cloned().unwrap_or_default();
    let started = events.iter().filter(|e| message(e) == "call started").count();
    assert_eq!(started, 1, "only the held call started");
    let warnings: Vec<&Captured> =
        events.iter().filter(|e| message(e).starts_with("calls shed at capacity")).collect();
    // One a second: the first shed reports at once; the 50 take well under two seconds.
    assert!((1..=2).contains(&warnings.len()), "{warnings:?}");
    assert_eq!(warnings[0].fields["shed"], "1");
    assert_eq!(warnings[0].fields["capacity"], "1");
}
