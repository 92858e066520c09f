//! Per-frame cost of a Twilio `media` frame through voxscope's `TrackedSocket` (adapter,
//! gap timing, counters) against the bare stream and sink, in the same run; inbound also
//! with ping keepalive on (the look for a pong per frame), and each followed by a wait
//! for the next frame, as on a live socket (where the keepalive polls its tick).
//!
//! `cargo bench -p voxscope-benches --bench call_frames -- --warm-up-time 1 --measurement-time 3`
//!
//! The socket is a stream that hands out the same frame (a refcount, no copy) and a
//! sink that drops it ([`RepeatingCaller`]), so that what a bench measures is the wrapper. A global
//! Prometheus recorder is installed: counter adds are real. After the timed runs the
//! bench counts heap allocations over 10,000 warm frames in each direction.
//!
//! `call_frames_handler` adds what a handler that decodes the audio needs from the frame
//! (its base64 payload): the bare stream and the handler's own serde_json read (as the
//! demo's agent without voxscope), the tracked socket and the same read again, and the
//! tracked socket's [`ParsedSocket`](voxscope::call::ParsedSocket), which gives the
//! payload the socket already found.

use std::convert::Infallible;
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ws::Message;
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::task::noop_waker_ref;
use futures_util::{Sink, Stream, StreamExt, sink};
use serde::Deserialize;
use voxscope::call::{CallLayer, ParsedMessage, Protocol, TrackedSocket};
use voxscope_benches::RepeatingCaller;

/// An inbound Twilio media frame: 20 ms of mu-law, as Twilio sends it.
fn inbound_media() -> Message {
    let payload = format!("{}==", "/".repeat(214));
    Message::text(format!(
        r#"{{"event":"media","sequenceNumber":"3","media":{{"track":"inbound","chunk":"2","timestamp":"20","payload":"{payload}"}},"streamSid":"MZ18ad3ab5a668481ce02b83e7395059f0"}}"#
    ))
}

/// An outbound media frame, as an agent sends it back.
fn outbound_media() -> Message {
    let payload = format!("{}==", "/".repeat(214));
    Message::text(format!(
        r#"{{"event":"media","streamSid":"MZ18ad3ab5a668481ce02b83e7395059f0","media":{{"payload":"{payload}"}}}}"#
    ))
}

fn call_frames(c: &mut Criterion) {
    let metrics = voxscope::install().ok();
    let layer = CallLayer::new(Protocol::Twilio).ok();
    let keepalive = CallLayer::builder(Protocol::Twilio)
        .ping_keepalive(Duration::from_secs(10), 2)
        .build()
        .ok();
    let (Some(metrics), Some(layer), Some(keepalive)) = (metrics, layer, keepalive) else {
        eprintln!("could not install the recorder or build the layers");
        return;
    };
    let Some(call) = layer.open_call(Some("CAbench")) else { return };
    let Some(pinged) = keepalive.open_call(Some("CAbench-keepalive")) else { return };
    let mut cx = Context::from_waker(noop_waker_ref());
    let inbound = inbound_media();
    let outbound = outbound_media();

    let mut bare_in = RepeatingCaller::new(inbound.clone());
    let mut tracked_in = call.track(RepeatingCaller::new(inbound.clone()));
    let mut pinged_in = pinged.track(RepeatingCaller::new(inbound.clone()));
    // A frame and then a wait, inside a runtime with a timer, where the keepalive runs
    // its tick between frames as it does on a live socket.
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_time().build() else {
        return;
    };
    let _runtime = runtime.enter();
    let mut waiting_in = call.track(RepeatingCaller::pausing(inbound.clone()));
    let mut pinged_waiting_in = pinged.track(RepeatingCaller::pausing(inbound.clone()));
    let mut bare_out = sink::drain::<Message>();
    let mut tracked_out = call.track(sink::drain::<Message>());

    let mut group = c.benchmark_group("call_frames");
    group.bench_function("bare_stream", |b| b.iter(|| black_box(bare_in.poll_next_unpin(&mut cx))));
    group.bench_function("voxscope_stream", |b| {
        b.iter(|| black_box(tracked_in.poll_next_unpin(&mut cx)))
    });
    group.bench_function("voxscope_stream_keepalive", |b| {
        b.iter(|| black_box(pinged_in.poll_next_unpin(&mut cx)))
    });
    group.bench_function("voxscope_stream_with_wait", |b| {
        b.iter(|| frame_and_wait(&mut waiting_in, &mut cx))
    });
    group.bench_function("voxscope_stream_keepalive_with_wait", |b| {
        b.iter(|| frame_and_wait(&mut pinged_waiting_in, &mut cx))
    });
    group.bench_function("bare_sink", |b| {
        b.iter(|| black_box(Pin::new(&mut bare_out).start_send(outbound.clone())))
    });
    group.bench_function("voxscope_sink", |b| {
        b.iter(|| black_box(Pin::new(&mut tracked_out).start_send(outbound.clone())))
    });
    group.finish();

    let mut bare_read = RepeatingCaller::new(inbound.clone());
    let mut tracked_read = call.track(RepeatingCaller::new(inbound.clone()));
    let mut parsed_read = call.track(RepeatingCaller::new(inbound.clone())).parsed();
    let mut group = c.benchmark_group("call_frames_handler");
    group.bench_function("bare_stream_handler_parse", |b| {
        b.iter(|| black_box(handler_parse(&mut bare_read, &mut cx)))
    });
    group.bench_function("voxscope_stream_handler_parse", |b| {
        b.iter(|| black_box(handler_parse(&mut tracked_read, &mut cx)))
    });
    group.bench_function("voxscope_parsed", |b| {
        b.iter(|| black_box(parsed_payload(&mut parsed_read, &mut cx)))
    });
    group.finish();
    let payload = format!("{}==", "/".repeat(214));
    assert_eq!(handler_parse(&mut bare_read, &mut cx), Some(payload.len()));
    assert_eq!(handler_parse(&mut tracked_read, &mut cx), Some(payload.len()));
    assert_eq!(parsed_payload(&mut parsed_read, &mut cx), Some(payload.len()));
    let parsed_allocations = allocation_counter::measure(|| {
        for _ in 0..10_000 {
            let _ = black_box(parsed_payload(&mut parsed_read, &mut cx));
        }
    })
    .count_total;
    println!(
        "call_frames_handler: {parsed_allocations} heap allocations over 10,000 parsed frames"
    );
    drop((tracked_read, parsed_read));

    let allocations = allocation_counter::measure(|| {
        for _ in 0..10_000 {
            let _ = black_box(tracked_in.poll_next_unpin(&mut cx));
            let _ = black_box(Pin::new(&mut tracked_out).start_send(outbound.clone()));
        }
    })
    .count_total;
    println!("call_frames: {allocations} heap allocations over 10,000 frames each way");

    drop((tracked_in, tracked_out, call, pinged_in, waiting_in, pinged_waiting_in, pinged));
    let rendered = metrics.render();
    assert!(rendered.contains("voice_call_frames_total"));
}

/// What a Twilio agent reads in a frame it parses itself (the demo's agent, off).
#[derive(Deserialize)]
struct Inbound<'a> {
    event: &'a str,
    #[serde(rename = "streamSid")]
    _stream_sid: Option<&'a str>,
    #[serde(borrow)]
    media: Option<InboundMedia<'a>>,
}

#[derive(Deserialize)]
struct InboundMedia<'a> {
    payload: &'a str,
}

/// One frame read and parsed by the handler: its payload's length.
fn handler_parse<S>(socket: &mut S, cx: &mut Context<'_>) -> Option<usize>
where
    S: Stream<Item = Result<Message, Infallible>> + Unpin,
{
    let Poll::Ready(Some(Ok(Message::Text(text)))) = socket.poll_next_unpin(cx) else {
        return None;
    };
    let frame: Inbound<'_> = serde_json::from_str(text.as_str()).ok()?;
    (frame.event == "media").then_some(frame.media?.payload.len())
}

/// One frame read from the parsed socket: its payload's length.
fn parsed_payload<S>(socket: &mut S, cx: &mut Context<'_>) -> Option<usize>
where
    S: Stream<Item = Result<ParsedMessage, Infallible>> + Unpin,
{
    let Poll::Ready(Some(Ok(message))) = socket.poll_next_unpin(cx) else { return None };
    message.payload().map(str::len)
}

type Read = Poll<Option<Result<Message, Infallible>>>;

/// One frame read, then the read that finds nothing yet.
fn frame_and_wait(socket: &mut TrackedSocket<RepeatingCaller>, cx: &mut Context<'_>) -> [Read; 2] {
    [black_box(socket.poll_next_unpin(cx)), black_box(socket.poll_next_unpin(cx))]
}

criterion_group!(benches, call_frames);
criterion_main!(benches);
