//! The per-item path of an observed stream allocates nothing. Its own test binary: the
//! counter replaces the global allocator.

use std::convert::Infallible;
use std::pin::pin;

use futures_util::{FutureExt, StreamExt, stream};
use metrics_util::debugging::DebuggingRecorder;
use voxscope_provider::{ProviderKind, ProviderMetrics};

#[test]
fn streamed_items_do_not_allocate() {
    let recorder = DebuggingRecorder::new();
    metrics::with_local_recorder(&recorder, || {
        let tts = ProviderMetrics::builder(ProviderKind::Tts, "elevenlabs").build().unwrap();
        let chunks = stream::iter(0..10_001_u32).map(Ok::<_, Infallible>);
        let mut audio = pin!(tts.observe_stream(chunks));
        // The first item records TTFB (and registers handles on first use).
        assert!(audio.next().now_or_never().flatten().is_some());

        let mut seen = 0;
        let info = allocation_counter::measure(|| {
            for _ in 0..10_000 {
                if let Some(Some(Ok(_))) = audio.next().now_or_never() {
                    seen += 1;
                }
            }
        });
        assert_eq!(seen, 10_000);
        assert_eq!(info.count_total, 0, "allocations for 10,000 items: {info:?}");
    });
}

#[test]
fn a_warm_request_allocates_nothing_in_the_wrapper() {
    // The no-op recorder stores nothing: what is left to count is the wrapper's own work
    // (guard, span, clock, handle cache). A real recorder's storage is its own business.
    metrics::with_local_recorder(&metrics::NoopRecorder, || {
        let llm = ProviderMetrics::builder(ProviderKind::Llm, "groq").build().unwrap();
        let _ = llm.observe(async { Ok::<_, Infallible>(1) }).now_or_never();
        let mut answers = 0;
        let info = allocation_counter::measure(|| {
            for _ in 0..1_000 {
                if let Some(Ok(_)) = llm.observe(async { Ok::<_, Infallible>(1) }).now_or_never() {
                    answers += 1;
                }
            }
        });
        assert_eq!(answers, 1_000);
        assert_eq!(info.count_total, 0, "allocations for 1,000 requests: {info:?}");
    });
}
