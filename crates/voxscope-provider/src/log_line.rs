//! The log lines operators grep for: one per provider request, one per fallback.
//!
//! ```text
//! [TTS elevenlabs] trace=4bf92f3577b34da6a3ce929d0e0e4736 TTFB=342ms total=1.2s chunks=45 outcome=ok
//! [LLM fallback] groq -> openai reason=rate_limited trace=4bf92f3577b34da6a3ce929d0e0e4736
//! ```
//!
//! Request lines are INFO events of target [`REQUESTS_TARGET`], fallback lines WARN
//! events (DEBUG for the skips of an open circuit, a saturated provider or a hedge, which
//! happen on every request while they last) of target [`FALLBACKS_TARGET`]: choose
//! their level with the subscriber's filter like any target, e.g.
//! `RUST_LOG=info,voxscope::provider=warn` keeps fallbacks and drops request lines. The
//! trace id is the current OpenTelemetry trace's, `-` outside a trace.

use std::fmt;
use std::time::Duration;

use opentelemetry::trace::{TraceContextExt, TraceId};

use crate::{ErrorClass, Outcome, ProviderKind};

/// Target of the one line per provider request.
pub const REQUESTS_TARGET: &str = "voxscope::provider";
/// Target of the one line per fallback.
pub const FALLBACKS_TARGET: &str = "voxscope::fallback";

/// The trace a request belongs to, taken when it starts: its line may be written after
/// the caller's context has gone (a stream dropped later).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TraceRef(Option<TraceId>);

impl TraceRef {
    /// The current OpenTelemetry context's trace, if it has a valid one.
    pub(crate) fn current() -> Self {
        let context = opentelemetry::Context::current();
        let span = context.span();
        let span_context = span.span_context();
        Self(span_context.is_valid().then(|| span_context.trace_id()))
    }
}

impl fmt::Display for TraceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(id) => write!(f, "{id}"),
            None => f.write_str("-"),
        }
    }
}

/// A duration as operators read it: `342ms` under a second, `1.2s` from one on.
struct Human(Duration);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0.as_secs_f64();
        if seconds < 1.0 {
            write!(f, "{}ms", self.0.as_millis())
        } else {
            write!(f, "{seconds:.1}s")
        }
    }
}

fn kind_upper(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Stt => "STT",
        ProviderKind::Llm => "LLM",
        ProviderKind::Tts => "TTS",
    }
}

/// What one ended provider request says in its line.
pub(crate) struct RequestLine<'a> {
    pub(crate) kind: ProviderKind,
    pub(crate) provider: &'a str,
    pub(crate) trace: TraceRef,
    pub(crate) ttfb: Option<Duration>,
    pub(crate) total: Duration,
    pub(crate) chunks: u64,
    pub(crate) outcome: Outcome,
    pub(crate) class: Option<ErrorClass>,
}

impl fmt::Display for RequestLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{} {}] trace={} TTFB=", kind_upper(self.kind), self.provider, self.trace)?;
        match self.ttfb {
            Some(ttfb) => write!(f, "{}", Human(ttfb))?,
            None => f.write_str("-")?,
        }
        write!(
            f,
            " total={} chunks={} outcome={}",
            Human(self.total),
            self.chunks,
            self.outcome.as_str()
        )?;
        if let Some(class) = self.class {
            write!(f, " error={}", class.as_str())?;
        }
        Ok(())
    }
}

/// Writes the request's line, inside `span` (the provider span) when it is enabled.
pub(crate) fn request(span: &tracing::Span, line: RequestLine<'_>) {
    tracing::info!(target: REQUESTS_TARGET, parent: span, "{line}");
}

/// What one switch of a chain says in its line.
pub(crate) struct FallbackLine<'a> {
    pub(crate) kind: ProviderKind,
    pub(crate) from: &'a str,
    pub(crate) to: &'a str,
    pub(crate) reason: &'a str,
    pub(crate) trace: TraceRef,
}

impl fmt::Display for FallbackLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{} fallback] {} -> {} reason={} trace={}",
            kind_upper(self.kind),
            self.from,
            self.to,
            self.reason,
            self.trace
        )
    }
}

/// Writes a fallback's line: WARN for a failure, DEBUG for a routine skip.
pub(crate) fn fallback(line: FallbackLine<'_>, routine: bool) {
    if routine {
        tracing::debug!(target: FALLBACKS_TARGET, "{line}");
    } else {
        tracing::warn!(target: FALLBACKS_TARGET, "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_read_as_operators_grep_them() {
        let trace = TraceRef(Some(TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap()));
        let line = RequestLine {
            kind: ProviderKind::Tts,
            provider: "elevenlabs",
            trace,
            ttfb: Some(Duration::from_millis(342)),
            total: Duration::from_millis(1_240),
            chunks: 45,
            outcome: Outcome::Ok,
            class: None,
        };
        assert_eq!(
            line.to_string(),
            "[TTS elevenlabs] trace=4bf92f3577b34da6a3ce929d0e0e4736 TTFB=342ms total=1.2s chunks=45 outcome=ok"
        );
        let failed = RequestLine {
            kind: ProviderKind::Llm,
            provider: "groq",
            trace: TraceRef::default(),
            ttfb: None,
            total: Duration::from_millis(80),
            chunks: 0,
            outcome: Outcome::Error,
            class: Some(ErrorClass::RateLimited),
        };
        assert_eq!(
            failed.to_string(),
            "[LLM groq] trace=- TTFB=- total=80ms chunks=0 outcome=error error=rate_limited"
        );
    }

    #[test]
    fn fallback_lines_name_both_providers_and_the_reason() {
        let line = FallbackLine {
            kind: ProviderKind::Llm,
            from: "groq",
            to: "openai",
            reason: "rate_limited",
            trace: TraceRef(Some(TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap())),
        };
        assert_eq!(
            line.to_string(),
            "[LLM fallback] groq -> openai reason=rate_limited trace=0af7651916cd43dd8448eb211c80319c"
        );
    }
}
