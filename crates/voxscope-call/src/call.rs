//! The call handle, and the guard that ends every call exactly once.

use std::fmt;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use quanta::Instant;
use tracing::Span;

use crate::handles::{Direction, Handles};
use crate::layer::CallSettings;
use crate::outcome::Outcome;
use crate::protocol::{ProtocolErrorKind, StartInfo};
use crate::serve::{CallFuture, CallResult};
use crate::socket::TrackedSocket;
use crate::timing::InboundTiming;

const TRACKED: u8 = 1;
const STOP_SEEN: u8 = 1 << 1;
const PEER_CLOSED_NORMALLY: u8 = 1 << 2;
const SERVICE_CLOSED_NORMALLY: u8 = 1 << 3;
const FAILED: u8 = 1 << 4;

/// One voice call: created by [`CallLayer`](crate::CallLayer) for each upgrade request,
/// taken by the handler as an extractor, moved into `on_upgrade` to wrap the socket.
///
/// Cheap to clone. The call ends when the last clone and the last
/// [`TrackedSocket`] are gone, exactly once, with the [`Outcome`] that what they saw
/// implies: however the handler returns, fails, panics or is aborted.
///
/// ```
/// use axum::extract::ws::WebSocketUpgrade;
/// use axum::response::Response;
/// use futures_util::{SinkExt, StreamExt};
/// use voxscope_call::Call;
///
/// async fn media(ws: WebSocketUpgrade, call: Call) -> Response {
///     ws.on_upgrade(move |socket| async move {
///         let mut socket = call.track(socket);
///         while let Some(Ok(message)) = socket.next().await {
///             // ... run the agent; when the caller stops speaking:
///             call.user_turn_ended();
///             # let _ = socket.send(message).await;
///         }
///     })
/// }
/// ```
#[derive(Clone)]
pub struct Call {
    pub(crate) state: Arc<CallState>,
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("id", &self.state.ids().call_id)
            .field("transport", &self.state.handles.transport)
            .finish_non_exhaustive()
    }
}

impl Call {
    /// Runs the call's handler on the tracked socket: inside the call's span, with a
    /// panic ending the call `failed` and an `Err` output too (see [`CallResult`]).
    /// The usual way to take the upgrade.
    ///
    /// ```
    /// use axum::extract::ws::{WebSocket, WebSocketUpgrade};
    /// use axum::response::Response;
    /// use voxscope_call::{Call, TrackedSocket};
    ///
    /// async fn media(ws: WebSocketUpgrade, call: Call) -> Response {
    ///     ws.on_upgrade(move |socket| call.serve(socket, agent))
    /// }
    ///
    /// async fn agent(socket: TrackedSocket<WebSocket>, call: Call) -> Result<(), String> {
    ///     # let _ = (socket, call);
    ///     Ok(())
    /// }
    /// ```
    pub fn serve<S, F, Fut>(self, socket: S, handler: F) -> CallFuture<Fut>
    where
        F: FnOnce(TrackedSocket<S>, Call) -> Fut,
        Fut: Future,
        Fut::Output: CallResult,
    {
        let socket = self.track(socket);
        let future = handler(socket, self.clone());
        CallFuture { inner: future, guard: PollGuard::new(self) }
    }

    /// Wraps the upgraded socket: frames, audio, gaps, stop and close are seen from here.
    /// A panic in the code that owns it is seen only if it drops the socket while
    /// unwinding; [`serve`](Self::serve) sees every panic.
    pub fn track<S>(&self, socket: S) -> TrackedSocket<S> {
        self.state.set(TRACKED);
        TrackedSocket::new(socket, self.clone())
    }

    /// The call id: the header or query value the layer was told to read, else a
    /// generated one, replaced by the provider's (Twilio `callSid`) once the stream
    /// reveals it. For spans and logs; never a label.
    pub fn id(&self) -> String {
        self.state.ids().call_id.clone()
    }

    /// The `transport` label of this call.
    pub fn transport(&self) -> &'static str {
        self.state.handles.transport
    }

    /// The call's span: the root of its own trace, linked (`follows_from`) to the span
    /// that was current when the request arrived.
    /// Instrument the call's task with it so that its logs carry the call id.
    pub fn span(&self) -> &Span {
        &self.state.span
    }

    /// The caller stopped speaking: the next outbound audio frame observes
    /// `voice_turn_latency_seconds`. A later call before that frame moves the mark.
    pub fn user_turn_ended(&self) {
        let since_start = self.state.start.elapsed().as_nanos() as u64;
        self.state.turn_ended_at.store(since_start.saturating_add(1), Ordering::Release);
    }

    /// Observes a sentiment score in `voice_call_sentiment`; clamped to -1..=1, NaN
    /// ignored.
    pub fn record_sentiment(&self, score: f64) {
        if !score.is_nan() {
            self.state.handles.sentiment.record(score.clamp(-1.0, 1.0));
        }
    }

    /// Ends the call as `failed` whatever the socket sees next; `reason` goes to the
    /// end-of-call log line. For a handler that returns an error.
    pub fn fail(&self, reason: impl fmt::Display) {
        self.state.set(FAILED);
        let mut summary = self.state.summary();
        if summary.fail_reason.is_none() {
            summary.fail_reason = Some(reason.to_string());
        }
    }

    /// Counts an inbound frame the application could not use in
    /// `voice_call_protocol_errors_total{kind, direction="in"}` (say, a media payload that is not valid
    /// base64 when the agent decodes it) and logs `error` at debug level in the call's
    /// span. The socket counts what it can judge without decoding; this is for the rest.
    ///
    /// ```
    /// use voxscope_call::{CallLayer, Protocol, ProtocolErrorKind};
    ///
    /// let layer = CallLayer::new(Protocol::Twilio)?;
    /// let call = layer.open_call(None).expect("no capacity set");
    /// call.protocol_error(ProtocolErrorKind::InvalidPayload, &"not canonical base64");
    /// # Ok::<(), voxscope_core::ConfigError>(())
    /// ```
    pub fn protocol_error(&self, kind: ProtocolErrorKind, error: &dyn fmt::Display) {
        self.state.handles.protocol_errors[kind.index()][Direction::In as usize].increment(1);
        tracing::debug!(
            parent: self.span(),
            kind = kind.label(),
            %error,
            "media-stream frame not usable by the application"
        );
    }

    pub(crate) fn handles(&self) -> &Arc<Handles> {
        &self.state.handles
    }
}

/// Shared by the clones of a [`Call`]; its `Drop` is the end of the call.
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
        let span = call_span(&call_id, transport);
        tracing::info!(parent: &span, call.id = %call_id, transport, "call started");
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

    pub(crate) fn set(&self, flag: u8) {
        self.flags.fetch_or(flag, Ordering::AcqRel);
    }

    pub(crate) fn summary(&self) -> MutexGuard<'_, Summary> {
        self.summary.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn ids(&self) -> Ids {
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

    pub(crate) fn eof(&self) {
        self.ended_by("eof");
    }

    pub(crate) fn failed_by_panic(&self) {
        self.set(FAILED);
        self.summary().fail_reason.get_or_insert_with(|| "panic".to_owned());
    }

    pub(crate) fn stream_started(&self, info: StartInfo) {
        let mut summary = self.summary();
        if let Some(sid) = info.call_sid {
            self.span.record("call.id", sid.as_str());
            summary.ids.call_id = sid;
        }
        if let Some(sid) = info.stream_sid {
            self.span.record("stream.id", sid.as_str());
            summary.ids.stream_id = Some(sid);
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
        log_end(&self.span, handles.transport, outcome, seconds, quality, summary);
    }
}

/// The `voice_call` span of a call. A call lasts minutes: its own trace, linked to the
/// upgrade request's (a child would hold that request's trace open, and its tail
/// decision, for the whole call).
fn call_span(call_id: &str, transport: &'static str) -> Span {
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

fn log_end(
    span: &Span,
    transport: &'static str,
    outcome: Outcome,
    duration_s: f64,
    quality: Option<f64>,
    s: &Summary,
) {
    let mean_turn_latency_s = (s.turns > 0).then(|| s.turn_latency_sum / s.turns as f64);
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
                "call ended"
            )
        };
    }
    match outcome {
        Outcome::Completed | Outcome::Rejected => end_line!(tracing::Level::INFO),
        Outcome::Dropped | Outcome::Failed => end_line!(tracing::Level::WARN),
    }
}

/// Holds a call while a future that may panic is polled. A panic unwinds through
/// `poll` and leaves `polling` set: the call then ends `failed`, even when the panic is
/// caught (tokio's task harness, tower-http's CatchPanic) and we are dropped after
/// unwinding, when `std::thread::panicking()` is false again.
#[derive(Debug)]
pub(crate) struct PollGuard {
    pub(crate) call: Option<Call>,
    pub(crate) polling: bool,
}

impl PollGuard {
    pub(crate) fn new(call: Call) -> Self {
        Self { call: Some(call), polling: false }
    }
}

impl Drop for PollGuard {
    fn drop(&mut self) {
        if let (true, Some(call)) = (self.polling, &self.call) {
            call.state.failed_by_panic();
        }
    }
}
