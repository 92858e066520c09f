//! One span per call, a child of the request span; two log lines per call; ids on
//! spans and logs, never on labels.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::Request;
use axum::response::Response;
use axum::routing::any;
use tower::ServiceExt;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Instrument, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use voxscope::call::{Call, CallLayer, Protocol};
use voxscope_tests::{Exposition, with_local_prometheus};

type Fields = HashMap<String, String>;

#[derive(Debug, Clone)]
struct Captured {
    name: String,
    parent: Option<String>,
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
        let span = Captured { name: attrs.metadata().name().to_owned(), parent, fields };
        self.spans.lock().unwrap().insert(id.into_u64(), span);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        if let Some(span) = self.spans.lock().unwrap().get_mut(&id.into_u64()) {
            values.record(&mut Collect(&mut span.fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let parent = ctx.event_span(event).map(|s| s.name().to_owned());
        let mut fields = Fields::new();
        event.record(&mut Collect(&mut fields));
        self.events.lock().unwrap().push(Captured { name: String::new(), parent, fields });
    }
}

async fn refuse(_call: Call) -> &'static str {
    "no upgrade"
}

async fn media(ws: WebSocketUpgrade, call: Call) -> Response {
    ws.on_upgrade(move |socket| call.serve(socket, |_socket, _call| async {}))
}

#[test]
fn each_call_has_one_span_under_the_request_span_and_two_log_lines() {
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
            let request = Request::get(path).header("x-call-id", id).body(Body::empty()).unwrap();
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
        assert_eq!(call.parent.as_deref(), Some("request"));
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
