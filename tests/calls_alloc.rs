//! A warm media frame costs no heap allocation through the tracked socket, in either
//! direction. Its own test binary: allocation-counter replaces the global allocator.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ws::Message;
use futures_util::task::noop_waker_ref;
use futures_util::{Sink, Stream, StreamExt, sink};
use voxscope::PrometheusInstaller;
use voxscope::call::{CallLayer, Protocol};

#[test]
fn a_warm_media_frame_allocates_nothing() {
    let payload = format!("{}==", "/".repeat(214));
    let inbound = Message::text(format!(
        r#"{{"event":"media","sequenceNumber":"3","media":{{"track":"inbound","chunk":"2","timestamp":"20","payload":"{payload}"}},"streamSid":"MZ1"}}"#
    ));
    let outbound = Message::text(format!(
        r#"{{"event":"media","streamSid":"MZ1","media":{{"payload":"{payload}"}}}}"#
    ));
    let (recorder, _handle) = PrometheusInstaller::new().build().expect("recorder");
    metrics::with_local_recorder(&recorder, || {
        let layer = CallLayer::new(Protocol::Twilio).expect("layer");
        let call = layer.open_call(None).expect("no capacity set");
        let mut from_caller = call.track(RepeatingCaller(inbound.clone()));
        let mut to_caller = call.track(sink::drain::<Message>());
        // With ping keepalive on, a frame only adds the look for a pong.
        let keepalive = CallLayer::builder(Protocol::Twilio)
            .ping_keepalive(Duration::from_secs(10), 2)
            .build()
            .expect("layer");
        let pinged = keepalive.open_call(None).expect("no capacity set");
        let mut from_pinged = pinged.track(RepeatingCaller(inbound));
        let mut cx = Context::from_waker(noop_waker_ref());
        let mut frame_pair = || {
            let _ = from_caller.poll_next_unpin(&mut cx);
            let _ = from_pinged.poll_next_unpin(&mut cx);
            let _ = Pin::new(&mut to_caller).start_send(outbound.clone());
        };
        // Warm: the first frames register handles and start the clock.
        for _ in 0..100 {
            frame_pair();
        }
        // Counted on this thread only, so the harness's other threads cannot blur it.
        let allocations = allocation_counter::measure(|| {
            for _ in 0..10_000 {
                frame_pair();
            }
        });
        assert_eq!(allocations.count_total, 0, "over 10,000 frame pairs: {allocations:?}");
    });
}

/// The caller in memory: the same inbound frame forever; what the service sends is
/// dropped.
struct RepeatingCaller(Message);

impl Stream for RepeatingCaller {
    type Item = Result<Message, Infallible>;

    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(Some(Ok(self.0.clone())))
    }
}

impl Sink<Message> for RepeatingCaller {
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
