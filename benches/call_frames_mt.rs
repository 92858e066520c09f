//! Call frames under concurrency: 1 and 16 calls at once, each a task on the multi-thread
//! runtime (one worker per core) reading Twilio `media` frames through its own
//! `TrackedSocket` and writing answers back, against the same sockets unwrapped, in one
//! run.
//!
//! `cargo bench -p voxscope-benches --bench call_frames_mt -- --warm-up-time 1 --measurement-time 3`
//!
//! Every call of a layer records into the same series (frames, audio seconds, gaps) of one
//! global Prometheus recorder installed by voxscope: what the 16 calls share is what could
//! contend. One operation is one inbound frame read and one outbound frame written; the
//! figure is wall time per operation, so with 16 calls on 2 cores no contention means
//! about half the 1-call figure. The socket is [`RepeatingCaller`]: the same frame at every
//! read, a sink that drops what is sent.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::ws::Message;
use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::{Sink, Stream, StreamExt};
use voxscope::call::{CallLayer, Protocol};
use voxscope_benches::{RepeatingCaller, TASKS, multi_thread_runtime, on_tasks};

/// 20 ms of mu-law as Twilio's base64: 214 characters and its padding.
fn payload() -> String {
    format!("{}==", "/".repeat(214))
}

fn inbound_media() -> Message {
    Message::text(format!(
        r#"{{"event":"media","sequenceNumber":"3","media":{{"track":"inbound","chunk":"2","timestamp":"20","payload":"{}"}},"streamSid":"MZ18ad3ab5a668481ce02b83e7395059f0"}}"#,
        payload()
    ))
}

fn outbound_media() -> Message {
    Message::text(format!(
        r#"{{"event":"media","streamSid":"MZ18ad3ab5a668481ce02b83e7395059f0","media":{{"payload":"{}"}}}}"#,
        payload()
    ))
}

/// `count` frames read from `socket` and `count` answers written to it.
async fn frames<S>(mut socket: S, answer: Message, count: u64)
where
    S: Stream + Sink<Message> + Unpin,
{
    for _ in 0..count {
        assert!(socket.next().await.is_some());
        assert!(Pin::new(&mut socket).start_send(answer.clone()).is_ok());
    }
}

fn call_frames_mt(c: &mut Criterion) {
    let (Ok(metrics), Some(runtime)) = (voxscope::install(), multi_thread_runtime()) else {
        eprintln!("could not install the recorder or build the runtime");
        return;
    };
    let Ok(layer) = CallLayer::new(Protocol::Twilio) else { return };
    let (inbound, outbound) = (inbound_media(), outbound_media());
    let tracked_frames = AtomicU64::new(0);
    for tasks in TASKS {
        let mut group = c.benchmark_group(format!("call_frames_mt_{tasks}_tasks"));
        group.bench_function("bare", |b| {
            b.iter_custom(|iters| {
                let socket = |_| RepeatingCaller::new(inbound.clone());
                on_tasks(&runtime, tasks, |t| frames(socket(t), outbound.clone(), iters)).0
            })
        });
        group.bench_function("voxscope", |b| {
            b.iter_custom(|iters| {
                tracked_frames.fetch_add(iters * tasks as u64, Ordering::Relaxed);
                let calls: Vec<_> = (0..tasks).filter_map(|_| layer.open_call(None)).collect();
                assert_eq!(calls.len(), tasks, "the layer has no cap");
                let socket = |t: usize| calls[t].track(RepeatingCaller::new(inbound.clone()));
                on_tasks(&runtime, tasks, |t| frames(socket(t), outbound.clone(), iters)).0
            })
        });
        group.finish();
    }

    // Every frame of every call was counted in each direction, none lost between workers.
    let count = |direction: &str| -> f64 {
        metrics
            .render()
            .lines()
            .filter(|line| line.starts_with("voice_call_frames_total{"))
            .filter(|line| line.contains(&format!("direction=\"{direction}\"")))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let sent = tracked_frames.load(Ordering::Relaxed) as f64;
    assert_eq!((count("in"), count("out")), (sent, sent));
}

criterion_group!(benches, call_frames_mt);
criterion_main!(benches);
