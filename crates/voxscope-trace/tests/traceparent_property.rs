//! `TraceParent::parse` against W3C Trace Context and OpenTelemetry's propagator: every
//! header built from valid ids reads back to those ids, with the propagator agreeing;
//! an uppercase digit, a zero id, a cut or an extra character is refused; and no text
//! makes it panic.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceId};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use proptest::prelude::*;
use voxscope_trace::TraceParent;

/// What OpenTelemetry's propagator reads from a `traceparent` value.
fn propagator(value: &str) -> SpanContext {
    let carrier = HashMap::from([("traceparent".to_owned(), value.to_owned())]);
    TraceContextPropagator::new().extract(&carrier).span().span_context().clone()
}

fn header(trace_id: u128, span_id: u64, flags: u8) -> String {
    format!("00-{trace_id:032x}-{span_id:016x}-{flags:02x}")
}

/// Text near a header: valid headers with a character replaced, removed or added, and
/// strings of the characters a header is made of.
fn near_header() -> impl Strategy<Value = String> {
    let valid = (1..=u128::MAX, 1..=u64::MAX, any::<u8>()).prop_map(|(t, s, f)| header(t, s, f));
    let edit = prop::sample::select(vec!['0', 'a', 'f', 'g', 'A', 'F', '-', ' ', '+', '\t', 'é']);
    prop_oneof![
        (valid.clone(), any::<prop::sample::Index>(), edit.clone(), 0..3u8).prop_map(
            |(mut text, at, c, op)| {
                let i = at.index(text.len());
                match op {
                    0 => text.replace_range(i..=i, &c.to_string()),
                    1 => {
                        text.remove(i);
                    }
                    _ => text.insert(i, c),
                }
                text
            }
        ),
        "[0-9a-fA-F\\- ]{50,60}",
        "\\PC{0,80}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn a_header_of_valid_ids_reads_back_to_them(
        trace_id in 1..=u128::MAX,
        span_id in 1..=u64::MAX,
        flags in any::<u8>(),
    ) {
        let value = header(trace_id, span_id, flags);
        let parsed = TraceParent::parse(&value).expect("a valid header");
        prop_assert_eq!(parsed.trace_id, TraceId::from(trace_id));
        prop_assert_eq!(parsed.parent_id, SpanId::from(span_id));
        prop_assert_eq!(parsed.sampled, flags & 1 == 1);
        let otel = propagator(&value);
        prop_assert!(otel.is_valid());
        prop_assert_eq!(otel.trace_id(), parsed.trace_id);
        prop_assert_eq!(otel.span_id(), parsed.parent_id);
        prop_assert_eq!(otel.is_sampled(), parsed.sampled);
    }

    #[test]
    fn uppercase_digits_and_zero_ids_are_refused(
        trace_id in 1..=u128::MAX,
        span_id in 1..=u64::MAX,
        at in any::<prop::sample::Index>(),
    ) {
        let value = header(trace_id, span_id, 1);
        let letters: Vec<usize> =
            value.char_indices().filter(|(_, c)| c.is_ascii_lowercase()).map(|(i, _)| i).collect();
        if !letters.is_empty() {
            let i = letters[at.index(letters.len())];
            let mut upper = value.clone();
            upper.replace_range(i..=i, &value[i..=i].to_ascii_uppercase());
            prop_assert_eq!(TraceParent::parse(&upper), None, "{}", upper);
        }
        prop_assert_eq!(TraceParent::parse(&header(0, span_id, 1)), None);
        prop_assert_eq!(TraceParent::parse(&header(trace_id, 0, 1)), None);
    }

    #[test]
    fn what_the_check_accepts_the_propagator_reads_alike(text in near_header()) {
        let Some(parsed) = TraceParent::parse(&text) else { return Ok(()) };
        let value = text.trim_matches([' ', '\t']);
        let version = &value[..2];
        prop_assert_ne!(version, "ff");
        // Version 00 ends after its flags; a later version may add fields after a '-'.
        let future_fields = version != "00" && value.as_bytes().get(55) == Some(&b'-');
        prop_assert!(value.len() == 55 || future_fields, "{:?}", text);
        prop_assert_eq!(&value[3..35], format!("{:032x}", parsed.trace_id));
        prop_assert_eq!(&value[36..52], format!("{:016x}", parsed.parent_id));
        let otel = propagator(value);
        prop_assert!(otel.is_valid() || version != "00", "the propagator refused {:?}", text);
        if !otel.is_valid() {
            return Ok(());
        }
        prop_assert_eq!(otel.trace_id(), parsed.trace_id);
        prop_assert_eq!(otel.span_id(), parsed.parent_id);
        prop_assert_eq!(otel.is_sampled(), parsed.sampled);
    }
}
