//! The ping keepalive of a tracked socket: the service pings the peer every interval and
//! times the pong; a peer that leaves pings unanswered interval after interval is gone
//! (a network that vanished, a client that stopped reading), even when it still sends.
//!
//! Pings and pongs are WebSocket control frames: tungstenite answers a ping by itself
//! while its side reads (browsers do too), and hands each pong to the reader, where
//! axum shows it as `Message::Pong`. So the pong of a peer that stopped reading never
//! comes, and a service sees it only while it reads.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::Message;
use futures_util::Sink;
use tokio::time::{Instant, Sleep};

/// How often to ping, and how many pings in a row may go unanswered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KeepaliveSettings {
    pub(crate) interval: Duration,
    pub(crate) misses: u32,
}

/// The ping state of one socket, driven from its read side: `poll` runs while the socket
/// has nothing to read (every media stream pauses between frames), `pong` on each pong
/// read. Each tick counts a miss if the previous ping is still unanswered, then sends the
/// next one; the peer's pong must carry the payload of the latest ping.
#[derive(Debug)]
pub(crate) struct Keepalive {
    settings: KeepaliveSettings,
    /// Created at the first wait, inside the runtime; `None` outside a tokio runtime,
    /// where the keepalive is off.
    tick: Option<Pin<Box<Sleep>>>,
    seq: u64,
    /// The latest ping's number, and when the sink took it (`None` while unsent).
    unanswered: Option<(u64, Option<Instant>)>,
    sending: Sending,
    misses: u32,
    expired: bool,
    /// The service began the close handshake: ticks still count misses, but no ping
    /// goes out (a peer that never answers the close is ended all the same).
    quiet: bool,
    /// The peer's stream ended or it closed: nothing left to watch.
    stopped: bool,
    /// The service's writer, while it waits on the sink. A socket keeps one write
    /// waker (tungstenite does), which a ping sent from the read side takes over: the
    /// writer is woken to take it back.
    writer: Option<Waker>,
    /// Pongs that answered a ping, and the sum of their round trips in seconds.
    pub(crate) pongs: u64,
    pub(crate) rtt_sum: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sending {
    Nothing,
    /// The ping with this number waits for the sink to be ready.
    Due(u64),
    /// Handed to the sink, not yet flushed.
    Unflushed,
}

impl Keepalive {
    pub(crate) fn new(settings: KeepaliveSettings) -> Self {
        Self {
            settings,
            tick: None,
            seq: 0,
            unanswered: None,
            sending: Sending::Nothing,
            misses: 0,
            expired: false,
            quiet: false,
            stopped: false,
            writer: None,
            pongs: 0,
            rtt_sum: 0.0,
        }
    }

    /// Whether the keepalive has ended the stream.
    pub(crate) fn is_expired(&self) -> bool {
        self.expired
    }

    /// The peer closed, or its stream ended.
    pub(crate) fn stop(&mut self) {
        self.stopped = true;
    }

    /// The service closed its side: no more pings (a WebSocket sends nothing after its
    /// close), while the peer still has `misses` ticks to answer the close.
    pub(crate) fn quiet(&mut self) {
        self.quiet = true;
        self.sending = Sending::Nothing;
    }

    /// The service's writer got `Pending` from the sink, and waits to be woken by `waker`.
    pub(crate) fn writer_waits(&mut self, waker: &Waker) {
        match &mut self.writer {
            Some(writer) if writer.will_wake(waker) => {}
            writer => *writer = Some(waker.clone()),
        }
    }

    /// The service's writer got what it waited for.
    pub(crate) fn writer_ready(&mut self) {
        self.writer = None;
    }

    /// A pong from the peer: its round trip in seconds when it answers the latest ping.
    /// Other pongs (late, unsolicited) are not answers.
    pub(crate) fn pong(&mut self, payload: &[u8]) -> Option<f64> {
        let (seq, Some(sent)) = self.unanswered? else { return None };
        if payload != seq.to_be_bytes() {
            return None;
        }
        self.unanswered = None;
        self.misses = 0;
        let rtt = sent.elapsed().as_secs_f64();
        self.pongs += 1;
        self.rtt_sum += rtt;
        Some(rtt)
    }

    /// Whether the peer has now left `misses` pings in a row unanswered; sends the ping
    /// that is due through `sink`, and registers `cx` for the next tick. Called while
    /// the socket has nothing to read.
    pub(crate) fn poll<S: Sink<Message>>(
        &mut self,
        sink: Pin<&mut S>,
        cx: &mut Context<'_>,
    ) -> bool {
        if self.expired || self.stopped {
            return self.expired;
        }
        let interval = self.settings.interval;
        let tick = match &mut self.tick {
            Some(tick) => tick,
            None if tokio::runtime::Handle::try_current().is_ok() => {
                self.tick.insert(Box::pin(tokio::time::sleep(interval)))
            }
            None => return false,
        };
        while tick.as_mut().poll(cx).is_ready() {
            if self.unanswered.is_some() {
                self.misses += 1;
                if self.misses >= self.settings.misses {
                    self.expired = true;
                    return true;
                }
            }
            self.seq += 1;
            self.unanswered = Some((self.seq, None));
            if !self.quiet {
                self.sending = Sending::Due(self.seq);
            }
            tick.as_mut().reset(Instant::now() + interval);
        }
        self.send(sink, cx);
        false
    }

    /// Hands the due ping to the sink and flushes it, as far as the sink lets us now. A
    /// sink error drops the ping: it stays unanswered, and the read side sees the error.
    /// A writer that waits on the sink in another task is then woken, to wait again on
    /// its own waker.
    fn send<S: Sink<Message>>(&mut self, sink: Pin<&mut S>, cx: &mut Context<'_>) {
        if self.sending == Sending::Nothing {
            return;
        }
        self.sending = self.drive(sink, cx);
        // Reader and writer in one task share a waker: nothing was taken over.
        if let Some(writer) = &self.writer
            && !writer.will_wake(cx.waker())
        {
            writer.wake_by_ref();
        }
    }

    /// What is left to do for the ping after one go at the sink.
    fn drive<S: Sink<Message>>(&mut self, mut sink: Pin<&mut S>, cx: &mut Context<'_>) -> Sending {
        if let Sending::Due(seq) = self.sending {
            match sink.as_mut().poll_ready(cx) {
                Poll::Pending => return self.sending,
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => return Sending::Nothing,
            }
            let ping = Message::Ping(Bytes::copy_from_slice(&seq.to_be_bytes()));
            if sink.as_mut().start_send(ping).is_err() {
                return Sending::Nothing;
            }
            if let Some((latest, sent @ None)) = &mut self.unanswered
                && *latest == seq
            {
                *sent = Some(Instant::now());
            }
        }
        match sink.poll_flush(cx) {
            Poll::Pending => Sending::Unflushed,
            Poll::Ready(_) => Sending::Nothing,
        }
    }
}
