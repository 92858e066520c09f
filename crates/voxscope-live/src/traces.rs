//! The traces view: the newest kept traces with their spans placed on the trace's own
//! time line, for the page's waterfall. Attributes are left out: they may identify
//! callers, and `/traces` has them for those allowed to read it.

use serde_json::{Value, json};
use voxscope_trace::TraceStore;

/// The traces view's frame body: the newest `limit` traces, newest first.
pub(crate) fn frame(store: &TraceStore, limit: usize) -> Value {
    let all = store.to_json(limit);
    let traces: Vec<Value> = all["traces"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(waterfall)
        .collect();
    json!({ "traces": traces })
}

/// One trace: its spans with `offset_ms` from the trace's first start, sorted by start.
fn waterfall(trace: &Value) -> Value {
    let spans = trace["spans"].as_array().map(Vec::as_slice).unwrap_or_default();
    let start =
        spans.iter().filter_map(|s| s["start_unix_ms"].as_f64()).fold(f64::INFINITY, f64::min);
    let mut out: Vec<Value> = spans
        .iter()
        .map(|s| {
            let begin = s["start_unix_ms"].as_f64().unwrap_or(start);
            json!({
                "name": s["name"],
                "span_id": s["span_id"],
                "parent_span_id": s["parent_span_id"],
                "offset_ms": begin - start,
                "duration_ms": s["duration_ms"],
                "status": s["status"],
                "status_message": s["status_message"],
            })
        })
        .collect();
    out.sort_by(|a, b| {
        a["offset_ms"].as_f64().unwrap_or(0.0).total_cmp(&b["offset_ms"].as_f64().unwrap_or(0.0))
    });
    let total = out
        .iter()
        .map(|s| s["offset_ms"].as_f64().unwrap_or(0.0) + s["duration_ms"].as_f64().unwrap_or(0.0))
        .fold(0.0, f64::max);
    json!({
        "trace_id": trace["trace_id"],
        "kept": trace["kept"],
        "root": trace["root"],
        "error": trace["error"],
        "duration_ms": trace["duration_ms"],
        "start_unix_ms": if start.is_finite() { json!(start) } else { Value::Null },
        "span_ms": total,
        "spans": out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_placed_from_the_traces_first_start_in_start_order() {
        // The shape `TraceStore::to_json` gives: spans in the order they ended.
        let trace = json!({
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
            "kept": "kept_error",
            "root": "POST /calls/{id}/turn",
            "duration_ms": 120.0,
            "error": true,
            "spans": [
                {"name": "llm", "span_id": "b", "parent_span_id": "a", "start_unix_ms": 1_000_030.0,
                 "duration_ms": 50.0, "status": "error", "status_message": "rate_limited",
                 "attributes": {"call.id": "CA1"}},
                {"name": "POST /calls/{id}/turn", "span_id": "a", "parent_span_id": null,
                 "start_unix_ms": 1_000_000.0, "duration_ms": 120.0, "status": "unset",
                 "status_message": null, "attributes": {}},
            ],
        });
        let out = waterfall(&trace);
        assert_eq!(out["span_ms"], 120.0);
        assert_eq!(out["start_unix_ms"], 1_000_000.0);
        let spans = out["spans"].as_array().unwrap();
        let placed: Vec<(&str, f64, f64)> = spans
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap(),
                    s["offset_ms"].as_f64().unwrap(),
                    s["duration_ms"].as_f64().unwrap(),
                )
            })
            .collect();
        assert_eq!(placed, [("POST /calls/{id}/turn", 0.0, 120.0), ("llm", 30.0, 50.0)]);
        assert_eq!(spans[1]["status_message"], "rate_limited");
        assert!(spans.iter().all(|s| s.get("attributes").is_none()), "caller ids stay out");
    }

    #[test]
    fn an_empty_store_gives_no_traces() {
        let frame = frame(&TraceStore::new(10), 20);
        assert_eq!(frame["traces"], json!([]));
    }
}
