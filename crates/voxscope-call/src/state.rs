//! The state the clones of a [`Call`](crate::Call) share: what happened to the call,
//! the outcome it implies, and its end, recorded exactly once when the last clone goes.

use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use quanta::Instant;
use tracing::Span;

use crate::handles::Handles;
use crate::layer::CallSettings;
use crate::log_lines;
use crate::outcome::Outcome;
use crate::protocol::StartInfo;
use crate::timing::InboundTiming;

const TRACKED: u8 = 1;
const STOP_SEEN: u8 = 1 << 1;
const PEER_CLOSED_NORMALLY: u8 = 1 << 2;
const SERVICE_CLOSED_NORMALLY: u8 = 1 << 3;
const FAILED: u8 = 1 << 4;

/// Shared by the clones of a [`Call`](crate::Call); its `Drop` is the end of the call.
pub(crate) struct CallState {
    pub(crate) handles: Arc<Handles>,
    pub(crate) settings: CallSettings,
    /// The layer's count of admitted calls, given back when the call ends.
    slot: Arc<AtomicUsize>,
    span: Span,
    start: Instant,
    turn_ended_at: AtomicU64,
    flags: AtomicU8,
    summary: Mutex<Summary>,
}

/// What the end-of-call log line reports.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    pub(crate) ids: Ids,
    pub(crate) end: Option<&'static str>,
    pub(crate) close_code: Option<u16>,
    pub(crate) fail_reason: Option<String>,
    pub(crate) frames: [u64; 2],
    pub(crate) audio_seconds: [f64; 2],
    pub(crate) inbound_frames: u64,
    pub(crate) late_frames: u64,
    pub(crate) missing_frames: u64,
    pub(crate) turns: u64,
    pub(crate) turn_latency_sum: f64,
    pub(crate) pongs: u64,
    pub(crate) ping_rtt_sum: f64,
}

#[derive(Debug, Default)]
pub(crate) struct Ids {
    pub(crate) call_id: String,
    pub(crate) stream_id: Option<String>,
}

impl CallState {
    pub(crate) fn start(
        handles: Arc<Handles>,
        settings: CallSettings,
        slot: Arc<AtomicUsize>,
        call_id: String,
    ) -> Arc<Self> {
        let transport = handles.transport;
        let span = log_lines::call_span(&call_id, transport);
        log_lines::call_started(&span, &call_id, transport);
        handles.active.increment(1.0);
        let summary = Summary { ids: Ids { call_id, stream_id: None }, ..Summary::default() };
        Arc::new(Self {
            handles,
            settings,
            slot,
            span,
            start: Instant::now(),
            turn_ended_at: AtomicU64::new(0),
            flags: AtomicU8::new(0),
            summary: Mutex::new(summary),
        })
    }

    fn set(&self, flag: u8) {
        self.flags.fetch_or(flag, Ordering::AcqRel);
    }

    pub(crate) fn span(&self) -> &Span {
        &self.span
    }

    /// The handler wrapped the socket: the call is no longer `rejected`.
    pub(crate) fn tracked(&self) {
        self.set(TRACKED);
    }

    /// Ends the call `failed`; the first reason given goes to the end line.
    pub(crate) fn fail(&self, reason: String) {
        self.set(FAILED);
        self.summary().fail_reason.get_or_insert(reason);
    }

    /// Marks the end of the caller's turn, in nanoseconds since the start (plus one, so
    /// that zero means none pending).
    pub(crate) fn user_turn_ended(&self) {
        let since_start = self.start.elapsed().as_nanos() as u64;
        self.turn_ended_at.store(since_start.saturating_add(1), Ordering::Release);
    }

    pub(crate) fn summary(&self) -> MutexGuard<'_, Summary> {
        self.summary.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn ids(&self) -> Ids {
        let summary = self.summary();
        Ids { call_id: summary.ids.call_id.clone(), stream_id: summary.ids.stream_id.clone() }
    }

    /// Records how the call ended; `true` when this was the first end seen.
    fn ended_by(&self, how: &'static str) -> bool {
        let mut summary = self.summary();
        let first = summary.end.is_none();
        summary.end.get_or_insert(how);
        first
    }

    pub(crate) fn stop_seen(&self) {
        self.set(STOP_SEEN);
        self.ended_by("stop");
    }

    /// A close frame from the peer; `None` is a close without a status code (1005).
    /// A normal close completes a call only if nothing ended it before.
    pub(crate) fn peer_closed(&self, code: Option<u16>) {
        self.summary().close_code.get_or_insert(code.unwrap_or(1005));
        if self.ended_by("peer_close") && matches!(code, None | Some(1000 | 1001)) {
            self.set(PEER_CLOSED_NORMALLY);
        }
    }

    /// The service hung up: a close frame it sent, or the close of its sink. A normal
    /// close completes the call unless the peer had already gone.
    pub(crate) fn service_closed(&self, code: Option<u16>) {
        self.summary().close_code.get_or_insert(code.unwrap_or(1005));
        if self.ended_by("service_close") && matches!(code, None | Some(1000 | 1001)) {
            self.set(SERVICE_CLOSED_NORMALLY);
        }
    }

    pub(crate) fn io_error(&self) {
        self.ended_by("io_error");
    }

    /// The peer sent nothing for the layer's idle timeout: the outcome is `dropped`.
    pub(crate) fn idle_timed_out(&self) {
        self.ended_by("idle_timeout");
    }

    /// The peer left the keepalive's pings unanswered: the outcome is `dropped`.
    pub(crate) fn ping_timed_out(&self) {
        self.ended_by("ping_timeout");
    }

    pub(crate) fn eof(&self) {
        self.ended_by("eof");
    }

    pub(crate) fn failed_by_panic(&self) {
        self.set(FAILED);
        self.summary().fail_reason.get_or_insert_with(|| "panic".to_owned());
    }

    pub(crate) fn stream_started(&self, info: &StartInfo) {
        let mut summary = self.summary();
        if let Some(sid) = &info.call_sid {
            self.span.record("call.id", sid.as_str());
            summary.ids.call_id.clone_from(sid);
        }
        if let Some(sid) = &info.stream_sid {
            self.span.record("stream.id", sid.as_str());
            summary.ids.stream_id = Some(sid.clone());
        }
        if let Some(from) = &info.from {
            self.span.record("call.from", from.as_str());
        }
        if let Some(to) = &info.to {
            self.span.record("call.to", to.as_str());
        }
    }

    /// Takes the pending end of the caller's turn, as seconds until now.
    pub(crate) fn take_turn_latency(&self) -> Option<f64> {
        if self.turn_ended_at.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let ended = self.turn_ended_at.swap(0, Ordering::AcqRel);
        let now = self.start.elapsed().as_nanos() as u64 + 1;
        (ended != 0).then(|| now.saturating_sub(ended) as f64 / 1e9)
    }

    fn outcome(&self) -> Outcome {
        let flags = self.flags.load(Ordering::Acquire);
        let has = |flag| flags & flag != 0;
        if has(FAILED) {
            Outcome::Failed
        } else if !has(TRACKED) {
            Outcome::Rejected
        } else if has(STOP_SEEN)
            || has(SERVICE_CLOSED_NORMALLY)
            || (has(PEER_CLOSED_NORMALLY) && !self.settings.protocol.has_stop_event())
        {
            Outcome::Completed
        } else {
            Outcome::Dropped
        }
    }
}

impl Drop for CallState {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.failed_by_panic();
        }
        let outcome = self.outcome();
        let seconds = self.start.elapsed().as_secs_f64();
        let handles = &self.handles;
        handles.calls[outcome.index()].increment(1);
        handles.duration[outcome.index()].record(seconds);
        self.slot.fetch_sub(1, Ordering::AcqRel);
        handles.active.decrement(1.0);
        let summary = self.summary.get_mut().unwrap_or_else(PoisonError::into_inner);
        let quality = InboundTiming::quality(
            summary.inbound_frames,
            summary.late_frames,
            summary.missing_frames,
        );
        if let Some(quality) = quality {
            handles.quality.record(quality);
        }
        self.span.record("outcome", outcome.label());
        self.span.record("duration_s", seconds);
        log_lines::call_ended(&self.span, handles.transport, outcome, seconds, quality, summary);
    }
}
