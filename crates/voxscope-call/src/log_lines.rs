//! The call's span and its two log lines, `call started` and `call ended`.

use tracing::Span;

use crate::outcome::Outcome;
use crate::state::Summary;

/// The `voice_call` span of a call. A call lasts minutes: its own trace, linked to the
/// upgrade request's (a child would hold that request's trace open, and its tail
/// decision, for the whole call).
pub(crate) fn call_span(call_id: &str, transport: &'static str) -> Span {
    let span = tracing::info_span!(
        parent: None,
        "voice_call",
        trace.root = tracing::field::Empty,
        call.id = %call_id,
        stream.id = tracing::field::Empty,
        call.from = tracing::field::Empty,
        call.to = tracing::field::Empty,
        transport,
        outcome = tracing::field::Empty,
        duration_s = tracing::field::Empty,
    );
    span.follows_from(Span::current());
    span
}

/// The first line of a call.
pub(crate) fn call_started(span: &Span, call_id: &str, transport: &'static str) {
    tracing::info!(parent: span, call.id = %call_id, transport, "call started");
}

/// The last line of a call: how it ended, what it carried, how it sounded (and, with
/// ping keepalive, the mean ping round trip). At `WARN` for a call `dropped` or
/// `failed`.
pub(crate) fn call_ended(
    span: &Span,
    transport: &'static str,
    outcome: Outcome,
    duration_s: f64,
    quality: Option<f64>,
    s: &Summary,
) {
    let mean_turn_latency_s = (s.turns > 0).then(|| s.turn_latency_sum / s.turns as f64);
    let mean_ping_rtt_s = (s.pongs > 0).then(|| s.ping_rtt_sum / s.pongs as f64);
    macro_rules! end_line {
        ($level:expr) => {
            tracing::event!(
                parent: span,
                $level,
                call.id = %s.ids.call_id,
                stream.id = s.ids.stream_id.as_deref(),
                transport,
                outcome = outcome.label(),
                duration_s,
                end = s.end.unwrap_or("handle_dropped"),
                close_code = s.close_code,
                fail_reason = s.fail_reason.as_deref(),
                frames_in = s.frames[0],
                frames_out = s.frames[1],
                frames_missing = s.missing_frames,
                audio_in_s = s.audio_seconds[0],
                audio_out_s = s.audio_seconds[1],
                quality,
                turns = s.turns,
                mean_turn_latency_s,
                mean_ping_rtt_s,
                "call ended"
            )
        };
    }
    match outcome {
        Outcome::Completed | Outcome::Rejected => end_line!(tracing::Level::INFO),
        Outcome::Dropped | Outcome::Failed => end_line!(tracing::Level::WARN),
    }
}
