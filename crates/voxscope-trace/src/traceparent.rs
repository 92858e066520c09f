//! Strict W3C `traceparent` validation, applied before OpenTelemetry's propagator.
//!
//! The propagator is lenient: it accepts short ids (`00-1-1-01`), `+`-prefixed ids,
//! uppercase hex, version `ff` and trailing data after a version-00 header. A header
//! this module rejects starts a new root trace instead of joining a bogus one.

use http::HeaderMap;
use opentelemetry::trace::{SpanId, TraceId};

/// A `traceparent` header that passed the W3C Trace Context rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceParent {
    /// The trace id (never all zeros).
    pub trace_id: TraceId,
    /// The caller's span id (never all zeros).
    pub parent_id: SpanId,
    /// The caller's `sampled` flag.
    pub sampled: bool,
}

impl TraceParent {
    /// Parses one header value by the W3C rules.
    ///
    /// ```
    /// use voxscope_trace::TraceParent;
    ///
    /// let ok = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    /// assert!(ok.is_some_and(|p| p.sampled));
    /// // Short ids, uppercase hex, version ff and trailing data are rejected.
    /// assert!(TraceParent::parse("00-1-1-01").is_none());
    /// assert!(TraceParent::parse("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01").is_none());
    /// assert!(TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-").is_none());
    /// ```
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim_matches(|c| c == ' ' || c == '\t').as_bytes();
        // version(2) - trace-id(32) - parent-id(16) - flags(2)
        if value.len() < 55 || value[2] != b'-' || value[35] != b'-' || value[52] != b'-' {
            return None;
        }
        let version = hex_u128(&value[0..2])? as u8;
        if version == 0xff {
            return None;
        }
        // Version 00 ends after the flags; a future version may append fields after a '-'.
        if value.len() > 55 && (version == 0 || value[55] != b'-') {
            return None;
        }
        let trace_id = hex_u128(&value[3..35])?;
        let parent_id = hex_u128(&value[36..52])? as u64;
        let flags = hex_u128(&value[53..55])? as u8;
        if trace_id == 0 || parent_id == 0 {
            return None;
        }
        Some(Self {
            trace_id: TraceId::from(trace_id),
            parent_id: SpanId::from(parent_id),
            sampled: flags & 1 == 1,
        })
    }

    /// The single valid `traceparent` of `headers`; `None` when it is absent, repeated
    /// or malformed.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let mut values = headers.get_all("traceparent").iter();
        let first = values.next()?;
        if values.next().is_some() {
            return None;
        }
        Self::parse(first.to_str().ok()?)
    }
}

/// Lowercase hex only: `u128::from_str_radix` would accept uppercase and a leading `+`.
fn hex_u128(digits: &[u8]) -> Option<u128> {
    digits.iter().try_fold(0u128, |acc, &d| {
        let nibble = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            _ => return None,
        };
        Some(acc << 4 | u128::from(nibble))
    })
}

#[cfg(test)]
mod tests {
    use super::TraceParent;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn accepts_the_spec_forms() {
        assert!(TraceParent::parse(VALID).is_some());
        assert!(TraceParent::parse(&format!(" \t{VALID}\t ")).is_some());
        let unsampled = TraceParent::parse(&VALID.replace("-01", "-00")).map(|p| p.sampled);
        assert_eq!(unsampled, Some(false));
        // Unknown flag bits are allowed; a future version may carry more fields.
        assert!(TraceParent::parse(&VALID.replace("-01", "-09")).is_some());
        assert!(TraceParent::parse(&format!("cc{}-what-the-future-holds", &VALID[2..])).is_some());
    }

    #[test]
    fn rejects_what_the_propagator_lets_through() {
        let malformed = [
            "00-1-1-01",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "A0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "",
            "garbage",
        ];
        for bad in malformed {
            assert_eq!(TraceParent::parse(bad), None, "{bad:?}");
        }
    }
}
