//! Provider streams under concurrency: 1 and 16 streams at once, each a task on the
//! multi-thread runtime (one worker per core) draining 1,024 ready items, bare, under
//! `observe_stream` and through a one-provider `FallbackChain`, in one run.
//!
//! `cargo bench -p voxscope-benches --bench provider_mt -- --warm-up-time 1 --measurement-time 3`
//!
//! The tasks share one provider's series (in-flight gauge, outcome counter, duration and
//! TTFB histograms) and, through the chain, one breaker: what the 16 streams share is what
//! could contend. Criterion's time is wall time per stream of 1,024 items (its
//! throughput line, per item); with 16 streams on 2 cores no contention means about half
//! the 1-stream figure.

use std::convert::Infallible;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::{Stream, StreamExt, stream};
use voxscope::provider::{FallbackChain, ProviderKind, ProviderMetrics, ProviderSettings};
use voxscope_benches::{TASKS, multi_thread_runtime, on_tasks};

const ITEMS: u32 = 1_024;

fn audio() -> impl Stream<Item = Result<u32, Infallible>> + Send + Unpin {
    stream::iter(0..ITEMS).map(Ok)
}

/// Drains `count` streams made by `make`, asserting each had every item.
async fn drain<S: Stream + Unpin>(make: impl Fn() -> S, count: u64) {
    for _ in 0..count {
        let mut items = make();
        let mut seen = 0;
        while let Some(item) = items.next().await {
            black_box(&item);
            seen += 1;
        }
        assert_eq!(seen, ITEMS);
    }
}

fn provider_mt(c: &mut Criterion) {
    let (Ok(metrics), Some(runtime)) = (voxscope::install(), multi_thread_runtime()) else {
        eprintln!("could not install the recorder or build the runtime");
        return;
    };
    let Ok(tts) = ProviderMetrics::builder(ProviderKind::Tts, "bench_tts_mt").build() else {
        return;
    };
    let Ok(chain) = FallbackChain::builder(ProviderKind::Tts)
        .stream_provider(ProviderSettings::new("bench_tts_chain_mt"), |_: ()| async {
            Ok::<_, Infallible>(audio())
        })
        .build()
    else {
        return;
    };
    let streams = [AtomicU64::new(0), AtomicU64::new(0)];
    for tasks in TASKS {
        let mut group = c.benchmark_group(format!("provider_stream_mt_{tasks}_tasks"));
        group.throughput(Throughput::Elements(u64::from(ITEMS)));
        group.bench_function("bare", |b| {
            b.iter_custom(|iters| on_tasks(&runtime, tasks, |_| drain(audio, iters)).0)
        });
        group.bench_function("voxscope", |b| {
            b.iter_custom(|iters| {
                streams[0].fetch_add(iters * tasks as u64, Ordering::Relaxed);
                let observed = |_| {
                    let tts = tts.clone();
                    drain(move || tts.observe_stream(audio()), iters)
                };
                on_tasks(&runtime, tasks, observed).0
            })
        });
        group.bench_function("voxscope_chain", |b| {
            b.iter_custom(|iters| {
                streams[1].fetch_add(iters * tasks as u64, Ordering::Relaxed);
                let chained = |_| {
                    let chain = chain.clone();
                    drain(move || chain.stream(()), iters)
                };
                on_tasks(&runtime, tasks, chained).0
            })
        });
        group.finish();
    }

    // Every stream was counted once, as a success, none lost between the workers.
    let requests = |provider: &str| -> f64 {
        metrics
            .render()
            .lines()
            .filter(|line| line.starts_with("voice_provider_requests_total{"))
            .filter(|line| line.contains(&format!("provider=\"{provider}\"")))
            .filter(|line| line.contains("outcome=\"ok\""))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let counted = (requests("bench_tts_mt"), requests("bench_tts_chain_mt"));
    let drained = streams.each_ref().map(|n| n.load(Ordering::Relaxed) as f64);
    assert_eq!(counted, (drained[0], drained[1]));
}

criterion_group!(benches, provider_mt);
criterion_main!(benches);
