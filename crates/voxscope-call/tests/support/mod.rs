//! The caller's side in memory and a local recorder, for the tests of the tracked socket.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::ws::Message;
use futures_util::{FutureExt, Sink, Stream, StreamExt, stream};
use metrics_util::CompositeKey;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

pub type Snapshot = Vec<(CompositeKey, DebugValue)>;

/// Runs `f` with a fresh local recorder and takes one snapshot: a snapshot drains
/// counters and histograms, so every assertion reads the same one.
pub fn recorded(f: impl FnOnce()) -> Snapshot {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, f);
    snapshotter.snapshot().into_vec().into_iter().map(|(key, _, _, value)| (key, value)).collect()
}

/// Counter value, or the histogram's observations, of `name` with all of `labels`.
pub fn values(snapshot: &Snapshot, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
    let mut out = Vec::new();
    for (key, value) in snapshot {
        let key = key.key();
        let matches =
            labels.iter().all(|(k, v)| key.labels().any(|l| l.key() == *k && l.value() == *v));
        if key.name() != name || !matches {
            continue;
        }
        match value {
            DebugValue::Counter(n) => out.push(*n as f64),
            DebugValue::Gauge(g) => out.push(g.into_inner()),
            DebugValue::Histogram(h) => out.extend(h.iter().map(|v| v.into_inner())),
        }
    }
    out
}

/// The caller's side, in memory: a stream of frames, and a sink that drops what the
/// service sends (a tracked socket reads only what it could also write to).
pub struct Peer<S>(pub S);

/// A peer that sends `frames`, then ends.
pub fn peer(frames: Vec<Message>) -> Peer<impl Stream<Item = Result<Message, Infallible>> + Unpin> {
    Peer(stream::iter(frames.into_iter().map(Ok)))
}

impl<S: Stream + Unpin> Stream for Peer<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        self.0.poll_next_unpin(cx)
    }
}

impl<S: Unpin> Sink<Message> for Peer<S> {
    type Error = Infallible;

    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, _: Message) -> Result<(), Infallible> {
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
}

/// Reads everything `socket` has ready.
pub fn drain<S: Stream + Unpin>(mut socket: S) -> S {
    while let Some(Some(_)) = socket.next().now_or_never() {}
    socket
}
