//! Per-request cost of request tracing on a trivial axum router, through
//! `tower::ServiceExt::oneshot`, body collected (the request span ends with the body).
//!
//! `cargo bench -p voxscope-benches --bench trace_layer -- --warm-up-time 1 --measurement-time 3`
//!
//! Every variant runs under a subscriber of tracing-subscriber's registry and the
//! pipeline's OpenTelemetry layer (voxscope's sampler and tail processor, kept traces
//! into the in-memory store):
//!
//! - `bare`: no layer, the floor.
//! - `head_dropped`: head-only mode, ratio 0: no OpenTelemetry span is built.
//! - `tail_dropped`: head and tail, ratio 0: recorded, buffered, dropped at the tail.
//! - `kept`: ratio 1: built, kept, stored.
//! - `tower_http_trace`: tower-http's `TraceLayer` under the head-only, ratio-0 pipeline:
//!   the usual tower-http + tracing-opentelemetry setup whose sampler drops the span.
//!
//! `trace_buffer/{one_lock,sharded}`: 16 threads each ending a trace of a root and four
//! children per iteration (head and tail, ratio 0: every span goes through the tail
//! buffer), with the buffer behind one lock (`buffer_shards(1)`) or 16.

use axum::Router;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt;
use tower::ServiceExt;
use tracing_subscriber::prelude::*;
use voxscope::trace::{SamplingMode, SamplingPolicy, TraceConfig, TracePipeline};
use voxscope_benches::{call_request, trivial_router};

fn one_request(app: &Router) -> impl Future<Output = ()> + use<> {
    let app = app.clone();
    async move {
        let Ok(response) = app.oneshot(call_request()).await;
        let _ = response.into_body().collect().await;
    }
}

fn pipeline(mode: SamplingMode, ratio: f64) -> Option<TracePipeline> {
    let policy = SamplingPolicy::default().mode(mode).default_ratio(ratio);
    TracePipeline::new(&TraceConfig::new("bench").policy(policy).memory_traces(100)).ok()
}

fn trace_layer(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().build().ok();
    let pipelines = [
        pipeline(SamplingMode::HeadOnly, 0.0),
        pipeline(SamplingMode::HeadAndTail, 0.0),
        pipeline(SamplingMode::HeadAndTail, 1.0),
    ];
    let (Some(runtime), [Some(head_only), Some(tail), Some(kept)]) = (runtime, pipelines) else {
        eprintln!("could not build the runtime or the pipelines");
        return;
    };

    // `with_state(())` turns handlers into routes once, as `axum::serve` does.
    let variants: [(&str, &TracePipeline, Router); 5] = [
        ("bare", &head_only, trivial_router()),
        ("head_dropped", &head_only, trivial_router().layer(head_only.trace_layer())),
        ("tail_dropped", &tail, trivial_router().layer(tail.trace_layer())),
        ("kept", &kept, trivial_router().layer(kept.trace_layer())),
        (
            "tower_http_trace",
            &head_only,
            trivial_router().layer(tower_http::trace::TraceLayer::new_for_http()),
        ),
    ];

    let mut group = c.benchmark_group("trace_layer");
    let mut ran_kept = false;
    for (name, pipeline, app) in variants.map(|(n, p, app)| (n, p, app.with_state(()))).iter() {
        let subscriber = tracing_subscriber::registry().with(pipeline.otel_layer());
        tracing::subscriber::with_default(subscriber, || {
            group.bench_function(*name, |b| {
                ran_kept |= *name == "kept";
                b.to_async(&runtime).iter(|| one_request(app))
            });
        });
    }
    group.finish();

    // The kept variant really kept, and nothing else did.
    assert!(!ran_kept || !kept.store().is_empty());
    assert!(head_only.store().is_empty() && tail.store().is_empty());
}

const THREADS: usize = 16;

fn trace_buffer(c: &mut Criterion) {
    let mut group = c.benchmark_group("trace_buffer");
    for (name, shards) in [("one_lock", 1), ("sharded", 16)] {
        let policy = SamplingPolicy::default().default_ratio(0.0);
        let config = TraceConfig::new("bench").policy(policy).buffer_shards(shards);
        let Ok(pipeline) = TracePipeline::new(&config) else {
            eprintln!("could not build the pipeline");
            return;
        };
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let start = std::sync::Barrier::new(THREADS + 1);
                std::thread::scope(|scope| {
                    for _ in 0..THREADS {
                        scope.spawn(|| {
                            let subscriber =
                                tracing_subscriber::registry().with(pipeline.otel_layer());
                            tracing::subscriber::with_default(subscriber, || {
                                start.wait();
                                for _ in 0..iters {
                                    tracing::info_span!("task").in_scope(|| {
                                        for _ in 0..4 {
                                            tracing::info_span!("step").in_scope(|| ());
                                        }
                                    });
                                }
                            });
                        });
                    }
                    start.wait();
                    std::time::Instant::now()
                })
                // The scope joins its threads before it returns: all 16 are done here.
                .elapsed()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, trace_layer, trace_buffer);
criterion_main!(benches);
