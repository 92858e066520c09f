//! The embedded trace store: the last N kept traces, rendered as JSON for `/traces`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, UNIX_EPOCH};

use opentelemetry::trace::{SpanId, Status, TraceId};
use opentelemetry::{Array, Value};
use opentelemetry_sdk::trace::SpanData;
use serde_json::{Map, Value as Json, json};

use crate::policy::Decision;

/// The last kept traces, newest first. Cloning shares the store.
///
/// ```
/// let store = voxscope_trace::TraceStore::new(100);
/// assert_eq!(store.len(), 0);
/// assert_eq!(store.to_json(10)["traces"].as_array().map(Vec::len), Some(0));
/// ```
#[derive(Clone, Debug)]
pub struct TraceStore {
    inner: Arc<Mutex<VecDeque<StoredTrace>>>,
    capacity: usize,
}

/// One kept trace.
#[derive(Clone, Debug)]
pub struct StoredTrace {
    /// The trace id.
    pub trace_id: TraceId,
    /// Why it was kept.
    pub decision: Decision,
    /// Its spans, in the order they ended (the local root last, when it has ended).
    pub spans: Vec<SpanData>,
}

impl TraceStore {
    /// A store that holds at most `capacity` traces (the oldest is evicted).
    pub fn new(capacity: usize) -> Self {
        Self { inner: Arc::new(Mutex::new(VecDeque::with_capacity(capacity.min(1024)))), capacity }
    }

    /// Adds the spans of a kept trace; spans that end after their trace was kept join it.
    pub(crate) fn add(&self, trace_id: TraceId, decision: Decision, spans: Vec<SpanData>) {
        if self.capacity == 0 {
            return;
        }
        let mut traces = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        // A late span: its trace is usually among the newest.
        if let Some(trace) = traces.iter_mut().find(|t| t.trace_id == trace_id) {
            trace.spans.extend(spans);
            return;
        }
        if traces.len() >= self.capacity {
            traces.pop_back();
        }
        traces.push_front(StoredTrace { trace_id, decision, spans });
    }

    /// Kept traces held now.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether no trace is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of the newest `limit` traces, newest first.
    pub fn traces(&self, limit: usize) -> Vec<StoredTrace> {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .take(limit)
            .cloned()
            .collect()
    }

    /// The newest `limit` traces as `{"traces": [...]}`: per trace its id, why it was
    /// kept, the root's name and duration, and every span with its parent, times,
    /// duration, status, attributes and events.
    pub fn to_json(&self, limit: usize) -> Json {
        let traces: Vec<Json> = self.traces(limit).iter().map(|t| trace_json(t, &[])).collect();
        json!({ "traces": traces })
    }
}

/// One trace as JSON, without the attributes named in `hidden`.
pub(crate) fn trace_json(trace: &StoredTrace, hidden: &[&str]) -> Json {
    let root =
        trace.spans.iter().find(|s| s.parent_span_id == SpanId::INVALID || s.parent_span_is_remote);
    json!({
        "trace_id": trace.trace_id.to_string(),
        "kept": trace.decision.as_str(),
        "root": root.map(|r| r.name.as_ref()),
        "duration_ms": root.map(|r| millis(duration(r))),
        "error": trace.spans.iter().any(|s| matches!(s.status, Status::Error { .. })),
        "spans": trace.spans.iter().map(|s| span_json(s, hidden)).collect::<Vec<_>>(),
    })
}

fn span_json(span: &SpanData, hidden: &[&str]) -> Json {
    let (status, message) = match &span.status {
        Status::Unset => ("unset", None),
        Status::Ok => ("ok", None),
        Status::Error { description } => ("error", Some(description.to_string())),
    };
    json!({
        "name": span.name,
        "span_id": span.span_context.span_id().to_string(),
        "parent_span_id": (span.parent_span_id != SpanId::INVALID)
            .then(|| span.parent_span_id.to_string()),
        "kind": format!("{:?}", span.span_kind).to_lowercase(),
        "start_unix_ms": span.start_time.duration_since(UNIX_EPOCH).map(millis).unwrap_or(0.0),
        "duration_ms": millis(duration(span)),
        "status": status,
        "status_message": message,
        "attributes": attributes(span.attributes.iter().map(|kv| (kv.key.as_str(), &kv.value)), hidden),
        "events": span.events.iter().map(|e| json!({
            "name": e.name,
            "attributes": attributes(e.attributes.iter().map(|kv| (kv.key.as_str(), &kv.value)), hidden),
        })).collect::<Vec<_>>(),
    })
}

fn duration(span: &SpanData) -> Duration {
    span.end_time.duration_since(span.start_time).unwrap_or_default()
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn attributes<'a>(pairs: impl Iterator<Item = (&'a str, &'a Value)>, hidden: &[&str]) -> Json {
    let mut map = Map::new();
    for (key, value) in pairs.filter(|(key, _)| !hidden.contains(key)) {
        map.insert(key.to_owned(), value_json(value));
    }
    Json::Object(map)
}

fn value_json(value: &Value) -> Json {
    match value {
        Value::Bool(b) => json!(b),
        Value::I64(i) => json!(i),
        Value::F64(f) => json!(f),
        Value::String(s) => json!(s.as_str()),
        Value::Array(Array::Bool(v)) => json!(v),
        Value::Array(Array::I64(v)) => json!(v),
        Value::Array(Array::F64(v)) => json!(v),
        Value::Array(Array::String(v)) => json!(v.iter().map(|s| s.as_str()).collect::<Vec<_>>()),
        other => json!(other.to_string()),
    }
}
