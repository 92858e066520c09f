//! The tracked socket: the WebSocket, seen frame by frame.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::ws::Message;
use futures_util::{Sink, Stream};
use pin_project::pin_project;
use quanta::Instant;

use crate::call::Call;
use crate::handles::{Direction, Handles};
use crate::idle::IdleWatch;
use crate::keepalive::Keepalive;
use crate::protocol::{Adapter, Frame, Reading};
use crate::timing::{AudioTally, InboundTiming, audio_micros};

/// A WebSocket wrapped by [`Call::track`]: a `Stream` and a `Sink` of axum
/// [`Message`]s that passes every frame through unchanged and counts, on the way,
/// media frames and audio seconds in each direction, inbound gaps, protocol errors,
/// the protocol's stop, close codes and IO errors, and turn latency at the first
/// outbound audio after [`Call::user_turn_ended`].
///
/// Split it with `StreamExt::split` to read and write from two tasks. A media frame
/// costs no allocation; inbound arrival is when the application reads the frame.
/// [`parsed`](Self::parsed) yields each message with what the socket read in it, for a
/// handler that would otherwise parse the frame again.
///
/// It is a `Stream` only over a socket it can also write to: the read side sends the
/// pings of [`ping_keepalive`](crate::CallLayerBuilder::ping_keepalive) itself, so a
/// handler that only ever reads still keeps its caller in check, and both halves of a
/// split socket share one tracker (the split's own lock, no other). Track the whole
/// socket, then split it: the stream half of a socket split before tracking has no
/// sink to ping through, and its tracked socket is no `Stream` (the compiler says so).
///
/// ```
/// # async fn f(call: voxscope_call::Call, socket: axum::extract::ws::WebSocket) {
/// use futures_util::StreamExt;
///
/// let (mut to_caller, mut from_caller) = call.track(socket).split();
/// # let _ = (&mut to_caller, &mut from_caller);
/// # }
/// ```
#[pin_project]
#[derive(Debug)]
pub struct TrackedSocket<S> {
    #[pin]
    inner: S,
    tracker: Tracker,
}

impl<S> TrackedSocket<S> {
    pub(crate) fn new(inner: S, call: Call) -> Self {
        Self { inner, tracker: Tracker::new(call) }
    }

    /// The wrapped socket.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The call this socket belongs to.
    pub fn call(&self) -> &Call {
        &self.tracker.call
    }
}

/// A message from the peer, with what the tracker read in it (nothing for pings, pongs
/// and the close).
pub(crate) type Read = (Message, Option<Reading>);

impl<S, E> TrackedSocket<S>
where
    S: Stream<Item = Result<Message, E>> + Sink<Message>,
{
    /// The next message from the peer, with what the tracker read in it.
    pub(crate) fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Read, E>>> {
        let this = self.project();
        let (mut inner, tracker) = (this.inner, this.tracker);
        let item = if tracker.idle.is_none() && tracker.keepalive.is_none() {
            match inner.poll_next(cx) {
                Poll::Ready(item) => item,
                Poll::Pending => {
                    tracker.publish_frames();
                    return Poll::Pending;
                }
            }
        } else {
            if tracker.watch_ended() {
                return Poll::Ready(None);
            }
            match inner.as_mut().poll_next(cx) {
                Poll::Ready(item) => {
                    tracker.watched(&item);
                    item
                }
                Poll::Pending => {
                    tracker.publish_frames();
                    if tracker.nothing_to_read(inner, cx) {
                        return Poll::Ready(None);
                    }
                    return Poll::Pending;
                }
            }
        };
        Poll::Ready(tracker.seen(item))
    }
}

impl<S, E> Stream for TrackedSocket<S>
where
    S: Stream<Item = Result<Message, E>> + Sink<Message>,
{
    type Item = Result<Message, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_read(cx).map(|item| item.map(|read| read.map(|(message, _)| message)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<S> Sink<Message> for TrackedSocket<S>
where
    S: Sink<Message>,
{
    type Error = S::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.project();
        let poll = this.inner.poll_ready(cx);
        this.tracker.writer_polled(poll.is_pending(), cx);
        poll
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Self::Error> {
        let this = self.project();
        let frame = this.tracker.outbound_frame(&message);
        let closing = match &message {
            Message::Close(frame) => Some(frame.as_ref().map(|f| f.code)),
            _ => None,
        };
        this.inner.start_send(message)?;
        if let Some(code) = closing {
            this.tracker.service_closing();
            this.tracker.call.state.service_closed(code);
        }
        if let Some(frame) = frame {
            this.tracker.outbound(frame);
        }
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.project();
        let poll = this.inner.poll_flush(cx);
        this.tracker.writer_polled(poll.is_pending(), cx);
        poll
    }

    /// The service hangs up (`SinkExt::close`, on the socket or its split sink): a close
    /// without a status code, which ends the call `completed` unless the peer left first.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.project();
        if !this.tracker.closing {
            this.tracker.closing = true;
            this.tracker.service_closing();
            this.tracker.call.state.service_closed(None);
        }
        let poll = this.inner.poll_close(cx);
        this.tracker.writer_polled(poll.is_pending(), cx);
        poll
    }
}

/// Inbound media frames are added to `voice_call_frames_total` when the socket has
/// nothing more to read, at its end, and at least every this many frames: a socket read
/// without pause (a backlog) adds them in batches rather than one shared atomic add each.
const PUBLISH_EVERY: u64 = 16;

/// Per-socket tallies in plain fields: `Stream` and `Sink` both take `&mut self`, so the
/// hot path needs no atomics. They join the call's summary when the socket goes.
#[derive(Debug)]
struct Tracker {
    call: Call,
    handles: Arc<Handles>,
    adapter: Adapter,
    timing: InboundTiming,
    audio: [AudioTally; 2],
    frames: [u64; 2],
    /// Inbound media frames read and not yet added to the shared counter.
    unpublished: u64,
    turns: u64,
    turn_latency_sum: f64,
    /// The service closed the sink.
    closing: bool,
    idle: Option<IdleWatch>,
    keepalive: Option<Keepalive>,
}

impl Tracker {
    fn new(call: Call) -> Self {
        let handles = Arc::clone(call.handles());
        let adapter = Adapter::new(call.state.settings.protocol);
        let timing = InboundTiming::new(call.state.settings.gap_factor);
        let idle = call.state.settings.idle_timeout.map(IdleWatch::new);
        let keepalive = call.state.settings.keepalive.map(Keepalive::new);
        Self {
            call,
            handles,
            adapter,
            timing,
            audio: Default::default(),
            frames: [0; 2],
            unpublished: 0,
            turns: 0,
            turn_latency_sum: 0.0,
            closing: false,
            idle,
            keepalive,
        }
    }

    /// Whether the idle watch or the keepalive ended the stream.
    fn watch_ended(&self) -> bool {
        self.idle.as_ref().is_some_and(IdleWatch::is_expired)
            || self.keepalive.as_ref().is_some_and(Keepalive::is_expired)
    }

    /// What the peer's stream yielded, for the watches: a pong answering the keepalive
    /// is timed; anything else is activity for the idle watch. The end of the stream, or
    /// the peer's close, stops the keepalive.
    fn watched<E>(&mut self, item: &Option<Result<Message, E>>) {
        if let Some(keepalive) = &mut self.keepalive {
            match item {
                Some(Ok(Message::Pong(payload))) => {
                    if let Some(rtt) = keepalive.pong(payload) {
                        if let Some(histogram) = &self.handles.ping_rtt {
                            histogram.record(rtt);
                        }
                        return;
                    }
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => keepalive.stop(),
                Some(Ok(_)) => {}
            }
        }
        if let Some(idle) = &mut self.idle {
            idle.inbound();
        }
    }

    /// The socket has nothing to read: sends a due ping, and tells whether a watch
    /// ends the stream now (once; `watch_ended` says so afterwards).
    fn nothing_to_read<S: Sink<Message>>(
        &mut self,
        sink: Pin<&mut S>,
        cx: &mut Context<'_>,
    ) -> bool {
        if let Some(keepalive) = &mut self.keepalive
            && keepalive.poll(sink, cx)
        {
            self.call.state.ping_timed_out();
            return true;
        }
        if let Some(idle) = &mut self.idle
            && idle.expired(cx)
        {
            self.call.state.idle_timed_out();
            return true;
        }
        false
    }

    /// The service's writer polled the sink: while it waits, the keepalive wakes it
    /// after each ping it sends from the read side (see `Keepalive::writer_waits`).
    fn writer_polled(&mut self, pending: bool, cx: &Context<'_>) {
        match &mut self.keepalive {
            Some(keepalive) if pending => keepalive.writer_waits(cx.waker()),
            Some(keepalive) => keepalive.writer_ready(),
            None => {}
        }
    }

    /// The service began the close handshake: no more pings, but a peer that never
    /// answers is still ended after the keepalive's misses.
    fn service_closing(&mut self) {
        if let Some(keepalive) = &mut self.keepalive {
            keepalive.quiet();
        }
    }

    /// What the peer's stream yielded, with what was read in a message.
    fn seen<E>(&mut self, item: Option<Result<Message, E>>) -> Option<Result<Read, E>> {
        match item {
            Some(Ok(message)) => {
                let reading = self.inbound(&message);
                Some(Ok((message, reading)))
            }
            Some(Err(error)) => {
                self.publish_frames();
                self.call.state.io_error();
                Some(Err(error))
            }
            None => {
                self.publish_frames();
                self.call.state.eof();
                None
            }
        }
    }

    /// What a message to the peer means.
    fn outbound_frame(&self, message: &Message) -> Option<Frame> {
        match message {
            Message::Text(text) => Some(self.adapter.text_out(text.as_str())),
            Message::Binary(bytes) => Some(self.adapter.binary(bytes.len(), Direction::Out)),
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) => None,
        }
    }

    /// Reads and counts a message from the peer; what was read, for a handler that takes
    /// it ([`ParsedSocket`](crate::ParsedSocket)).
    fn inbound(&mut self, message: &Message) -> Option<Reading> {
        let reading = match message {
            Message::Text(text) => self.adapter.read_in(text.as_str()),
            Message::Binary(bytes) => {
                Reading::frame(self.adapter.binary(bytes.len(), Direction::In))
            }
            Message::Close(frame) => {
                self.call.state.peer_closed(frame.as_ref().map(|f| f.code));
                return None;
            }
            Message::Ping(_) | Message::Pong(_) => return None,
        };
        match &reading.frame {
            &Frame::Media { bytes, timestamp_ms, caller_track: true } => {
                let micros = self.media(Direction::In, bytes);
                if self.timing.frame(Instant::now(), timestamp_ms, micros) {
                    self.handles.gaps.increment(1);
                }
            }
            // Twilio `both_tracks`: the call's outbound audio, forked to the socket.
            &Frame::Media { bytes, caller_track: false, .. } => {
                self.media(Direction::Out, bytes);
            }
            Frame::Start(info) => {
                if let Some(rate) = info.byte_rate {
                    self.adapter.set_byte_rate(rate);
                }
                self.call.state.stream_started(info);
            }
            Frame::Stop => self.call.state.stop_seen(),
            &Frame::Error(kind) => self.protocol_error(kind, Direction::In),
            Frame::Control => {}
        }
        Some(reading)
    }

    fn outbound(&mut self, frame: Frame) {
        match frame {
            Frame::Media { bytes, .. } => {
                self.media(Direction::Out, bytes);
                if let Some(latency) = self.call.state.take_turn_latency() {
                    self.handles.turn_latency.record(latency);
                    self.turns += 1;
                    self.turn_latency_sum += latency;
                }
            }
            Frame::Error(kind) => self.protocol_error(kind, Direction::Out),
            Frame::Start(_) | Frame::Stop | Frame::Control => {}
        }
    }

    fn media(&mut self, direction: Direction, bytes: usize) -> u64 {
        let d = direction as usize;
        let micros = audio_micros(bytes, self.adapter.byte_rate());
        self.frames[d] += 1;
        if direction == Direction::In {
            self.unpublished += 1;
            if self.unpublished >= PUBLISH_EVERY {
                self.publish_frames();
            }
        } else {
            self.handles.frames[d].increment(1);
        }
        self.audio[d].add(micros, &self.handles.audio[d]);
        micros
    }

    /// Adds the inbound media frames read since the last time to the shared counter.
    fn publish_frames(&mut self) {
        if self.unpublished > 0 {
            self.handles.frames[Direction::In as usize].increment(self.unpublished);
            self.unpublished = 0;
        }
    }

    #[cold]
    fn protocol_error(&self, kind: crate::ProtocolErrorKind, direction: Direction) {
        self.handles.protocol_errors[kind.index()][direction as usize].increment(1);
        tracing::debug!(
            parent: self.call.span(),
            kind = kind.label(),
            direction = direction.label(),
            "media-stream frame not understood; passed through"
        );
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.publish_frames();
        if std::thread::panicking() {
            self.call.state.failed_by_panic();
        }
        for d in [Direction::In, Direction::Out] {
            let d = d as usize;
            self.audio[d].finish(&self.handles.audio_carry[d], &self.handles.audio[d]);
        }
        let mut summary = self.call.state.summary();
        for d in 0..2 {
            summary.frames[d] += self.frames[d];
            summary.audio_seconds[d] += self.audio[d].seconds();
        }
        summary.inbound_frames += self.timing.frames;
        summary.late_frames += self.timing.late;
        summary.missing_frames += self.timing.missing;
        summary.turns += self.turns;
        summary.turn_latency_sum += self.turn_latency_sum;
        if let Some(keepalive) = &self.keepalive {
            summary.pongs += keepalive.pongs;
            summary.ping_rtt_sum += keepalive.rtt_sum;
        }
    }
}
