//! Any `traceparent` value: the strict check never panics, accepts only what W3C Trace
//! Context allows (lowercase hex, non-zero ids, version 00 ending after its flags), and
//! whatever it accepts OpenTelemetry's propagator reads as the same parent.
#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use voxscope_trace::TraceParent;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let parsed = TraceParent::parse(text);
    let mut headers = HeaderMap::new();
    // A header value the service reads is visible ASCII (`to_str`).
    if let (true, Ok(value)) = (text.is_ascii(), HeaderValue::from_str(text)) {
        headers.insert("traceparent", value);
        assert_eq!(TraceParent::from_headers(&headers), parsed, "{text:?}");
        headers.append("traceparent", HeaderValue::from_str(text).unwrap());
        assert_eq!(TraceParent::from_headers(&headers), None, "a repeated header: {text:?}");
    }
    let Some(parent) = parsed else { return };

    let value = text.trim_matches([' ', '\t']);
    let ids = format!("-{:032x}-{:016x}-", parent.trace_id, parent.parent_id);
    assert_eq!(&value[2..53], ids, "the ids are the header's lowercase hex: {text:?}");
    assert!(value.len() == 55 || (&value[..2] != "00" && value.as_bytes()[55] == b'-'));
    assert_ne!(&value[..2], "ff", "version ff is invalid: {text:?}");

    let mut carrier = std::collections::HashMap::new();
    carrier.insert("traceparent".to_owned(), value.to_owned());
    let context = TraceContextPropagator::new().extract(&carrier);
    let span = context.span();
    let otel = span.span_context();
    // The propagator reads version 00 exactly; it may refuse a future version's fields.
    if &value[..2] == "00" {
        assert!(otel.is_valid(), "the propagator refused what the check accepted: {text:?}");
    }
    if otel.is_valid() {
        assert_eq!(otel.trace_id(), parent.trace_id, "{text:?}");
        assert_eq!(otel.span_id(), parent.parent_id, "{text:?}");
        assert_eq!(otel.is_sampled(), parent.sampled, "{text:?}");
    }
});
