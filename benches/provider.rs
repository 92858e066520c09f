//! Cost of the provider wrapper against the bare provider, in the same run.
//!
//! `cargo bench -p voxscope-benches --bench provider -- --warm-up-time 1 --measurement-time 3`
//!
//! Providers are in-process and always ready, so what is measured is the wrapper:
//! - `provider_request/*`: one unary request through a tower `service_fn`, bare and under
//!   `ProviderLayer` (guard, span, in-flight gauge, outcome counter, duration and TTFB
//!   histograms).
//! - `provider_stream/*`: a stream of 1,024 ready items, bare and under `observe_stream`;
//!   criterion reports time per item, so the wrapper's per-item cost is the difference,
//!   with one request's start and end spread over the 1,024 items.
//! - `provider_fallback/*`: one request through a one-provider `FallbackChain` (boxed
//!   provider, breaker permit, chain TTFB and duration) against the bare `service_fn`;
//!   `voxscope_chain_guarded` adds a concurrency limit (a semaphore place) and a retry
//!   policy (a budget deposit), as a production chain has them.
//! - `provider_fallback_stream/*`: 1,024 ready items through a chain's stream against the
//!   bare stream, per item.
//!
//! All variants record into one global Prometheus recorder installed by voxscope.

use std::convert::Infallible;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::{FutureExt, StreamExt, stream};
use tower::{Layer, Service, service_fn};
use voxscope::provider::{
    FallbackChain, ProviderKind, ProviderLayer, ProviderMetrics, ProviderSettings, RetryConfig,
};

const ITEMS: u32 = 1_024;

fn provider(c: &mut Criterion) {
    let Ok(metrics) = voxscope::install() else {
        eprintln!("could not install the recorder");
        return;
    };
    let (Ok(llm), Ok(tts)) = (
        ProviderMetrics::builder(ProviderKind::Llm, "bench_llm").build(),
        ProviderMetrics::builder(ProviderKind::Tts, "bench_tts").build(),
    ) else {
        return;
    };

    let mut group = c.benchmark_group("provider_request");
    let mut bare = service_fn(|prompt: u64| async move { Ok::<_, Infallible>(prompt + 1) });
    let mut wrapped = ProviderLayer::new(llm).layer(bare);
    group.bench_function("bare", |b| {
        b.iter(|| bare.call(black_box(1)).now_or_never());
    });
    group.bench_function("voxscope", |b| {
        b.iter(|| wrapped.call(black_box(1)).now_or_never());
    });
    group.finish();

    let mut group = c.benchmark_group("provider_stream");
    group.throughput(Throughput::Elements(u64::from(ITEMS)));
    let audio = || stream::iter(0..ITEMS).map(Ok::<_, Infallible>);
    group.bench_function("bare", |b| {
        b.iter(|| drain(audio()));
    });
    group.bench_function("voxscope", |b| {
        b.iter(|| drain(tts.observe_stream(audio())));
    });
    group.finish();

    let Ok(chain) = FallbackChain::builder(ProviderKind::Stt)
        .provider(ProviderSettings::new("bench_stt"), |audio: u64| async move {
            Ok::<_, Infallible>(audio + 1)
        })
        .build()
    else {
        return;
    };
    let guarded = ProviderSettings::new("bench_stt_guarded")
        .concurrency_limit(64)
        .retry(RetryConfig::default());
    let Ok(guarded) = FallbackChain::builder(ProviderKind::Stt)
        .provider(guarded, |audio: u64| async move { Ok::<_, Infallible>(audio + 1) })
        .build()
    else {
        return;
    };
    let mut group = c.benchmark_group("provider_fallback");
    group.bench_function("bare", |b| {
        b.iter(|| bare.call(black_box(1)).now_or_never());
    });
    group.bench_function("voxscope_chain", |b| {
        b.iter(|| chain.call(black_box(1)).now_or_never());
    });
    group.bench_function("voxscope_chain_guarded", |b| {
        b.iter(|| guarded.call(black_box(1)).now_or_never());
    });
    group.finish();

    let Ok(streaming) = FallbackChain::builder(ProviderKind::Tts)
        .stream_provider(ProviderSettings::new("bench_tts_chain"), move |_: ()| async move {
            Ok::<_, Infallible>(audio())
        })
        .build()
    else {
        return;
    };
    let mut group = c.benchmark_group("provider_fallback_stream");
    group.throughput(Throughput::Elements(u64::from(ITEMS)));
    group.bench_function("bare", |b| {
        b.iter(|| drain(audio()));
    });
    group.bench_function("voxscope_chain", |b| {
        b.iter(|| drain(streaming.stream(())));
    });
    group.finish();

    let rendered = metrics.render();
    assert!(rendered.contains("voice_provider_requests_total"));
    assert!(rendered.contains("bench_stt"));
}

fn drain<S: futures_util::Stream + Unpin>(mut items: S) -> usize {
    let mut count = 0;
    while let Some(Some(item)) = items.next().now_or_never() {
        // By reference: copying a wide item (a chain's `Result` carries its error type)
        // into black_box's slot stalls on store forwarding, and that is the harness's
        // cost, not the stream's.
        black_box(&item);
        count += 1;
    }
    count
}

criterion_group!(benches, provider);
criterion_main!(benches);
