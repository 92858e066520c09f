//! Per-frame cost of a call's task: [`Call::serve`]'s future, polled once per inbound
//! Twilio `media` frame (the handler reads the frame, then finds nothing yet, as on a live
//! socket), under voxscope's global tracing subscriber (the call's span entered on every
//! poll), against the same handler loop on the bare stream and on the call's tracked
//! socket outside the task (the span not entered), polled the same way.
//!
//! `cargo bench -p voxscope-benches --bench call_task -- --warm-up-time 1 --measurement-time 3`
//!
//! After the timed runs the bench counts heap allocations over 10,000 polls of the call's
//! task and checks that the call counted every frame it read.

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::ws::Message;
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::task::noop_waker_ref;
use futures_util::{Stream, StreamExt};
use voxscope::call::{Call, CallLayer, Protocol, TrackedSocket};
use voxscope::trace::TraceConfig;
use voxscope_benches::RepeatingCaller;

/// An inbound Twilio media frame: 20 ms of mu-law, as Twilio sends it.
fn inbound_media() -> Message {
    let payload = format!("{}==", "/".repeat(214));
    Message::text(format!(
        r#"{{"event":"media","sequenceNumber":"3","media":{{"track":"inbound","chunk":"2","timestamp":"20","payload":"{payload}"}},"streamSid":"MZ18ad3ab5a668481ce02b83e7395059f0"}}"#
    ))
}

/// The agent's read loop: every frame until the caller hangs up.
async fn read_frames<S>(mut socket: S)
where
    S: Stream + Unpin,
{
    while let Some(frame) = socket.next().await {
        black_box(frame);
    }
}

async fn agent(socket: TrackedSocket<RepeatingCaller>, _call: Call) {
    read_frames(socket).await;
}

fn call_task(c: &mut Criterion) {
    let metrics = voxscope::install().ok();
    let tracing = voxscope::init_tracing(TraceConfig::new("call_task").log_filter("warn")).ok();
    let layer = CallLayer::new(Protocol::Twilio).ok();
    let (Some(metrics), Some(tracing), Some(layer)) = (metrics, tracing, layer) else {
        eprintln!("could not install the recorder or the subscriber, or build the layer");
        return;
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_time().build() else {
        return;
    };
    let _runtime = runtime.enter();
    let Some(call) = layer.open_call(Some("CAtask")) else { return };
    let mut cx = Context::from_waker(noop_waker_ref());
    let inbound = inbound_media();

    let mut bare = Box::pin(read_frames(RepeatingCaller::pausing(inbound.clone())));
    let mut tracked = Box::pin(read_frames(call.track(RepeatingCaller::pausing(inbound.clone()))));
    let mut served = Box::pin(call.serve(RepeatingCaller::pausing(inbound), agent));
    let mut polls = 0_u64;

    let mut group = c.benchmark_group("call_task");
    group.bench_function("bare_task", |b| b.iter(|| poll(bare.as_mut(), &mut cx)));
    group.bench_function("voxscope_socket", |b| {
        b.iter(|| {
            polls += 1;
            poll(tracked.as_mut(), &mut cx)
        })
    });
    group.bench_function("voxscope_task", |b| {
        b.iter(|| {
            polls += 1;
            poll(served.as_mut(), &mut cx)
        })
    });
    group.finish();

    let allocations = allocation_counter::measure(|| {
        for _ in 0..10_000 {
            polls += 1;
            let _ = poll(served.as_mut(), &mut cx);
        }
    })
    .count_total;
    println!("call_task: {allocations} heap allocations over 10,000 polls of the call's task");

    drop((served, tracked));
    let rendered = metrics.render();
    let counted = rendered
        .lines()
        .find(|line| {
            line.starts_with("voice_call_frames_total") && line.contains("direction=\"in\"")
        })
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse::<u64>().ok());
    assert_eq!(counted, Some(polls), "one inbound frame counted per poll");
    drop(tracing);
}

/// One poll: one frame read, then the read that finds nothing yet.
fn poll<F: Future<Output = ()>>(task: Pin<&mut F>, cx: &mut Context<'_>) -> Poll<()> {
    black_box(task.poll(cx))
}

criterion_group!(benches, call_task);
criterion_main!(benches);
