//! Registrations through voxscope's cardinality guard against the bare Prometheus
//! recorder, from 1 and from 16 threads at once, in one run.
//!
//! `cargo bench -p voxscope-benches --bench cardinality -- --warm-up-time 1 --measurement-time 3`
//!
//! Each thread registers and records `counter!`-style, as callers that do not keep their
//! handles do on every call: a mix of labelled counters and histograms (all within the
//! cap, as in a healthy service) and labelless counters and gauges, the same keys on
//! every thread so that they contend. One iteration is one registration and one update
//! on each thread; the figure is wall time, on however many cores there are.
//!
//! `noop_recorder` and `guard_over_noop` isolate the guard's own cost: the same work
//! over a recorder that does nothing.

use criterion::{Criterion, criterion_group, criterion_main};
use metrics::{Key, Label, Level, Metadata, NoopRecorder, Recorder};
use metrics_exporter_prometheus::PrometheusBuilder;
use metrics_util::layers::Layer;
use voxscope::cardinality::CardinalityLimit;
use voxscope_benches::on_threads;

/// 4 labelled metrics × 50 combinations, and 2 labelless metrics.
fn keys() -> Vec<(Key, Kind)> {
    let mut keys = Vec::new();
    for metric in 0..4 {
        for combo in 0..50 {
            let labels = vec![
                Label::new("route", format!("/r{combo}")),
                Label::new("status", if combo % 5 == 0 { "500" } else { "200" }),
            ];
            let kind = if metric % 2 == 0 { Kind::Counter } else { Kind::Histogram };
            keys.push((Key::from_parts(format!("bench_metric_{metric}"), labels), kind));
        }
    }
    keys.push((Key::from_name("bench_ticks_total"), Kind::Counter));
    keys.push((Key::from_name("bench_workers"), Kind::Gauge));
    keys
}

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

fn register_and_record(recorder: &impl Recorder, (key, kind): &(Key, Kind)) {
    const METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);
    match kind {
        Kind::Counter => recorder.register_counter(key, &METADATA).increment(1),
        Kind::Gauge => recorder.register_gauge(key, &METADATA).set(1.0),
        Kind::Histogram => recorder.register_histogram(key, &METADATA).record(0.25),
    }
}

fn cardinality(c: &mut Criterion) {
    let keys = keys();
    let bare = PrometheusBuilder::new().build_recorder();
    let guarded = CardinalityLimit::default().layer(PrometheusBuilder::new().build_recorder());
    let guarded_noop = CardinalityLimit::default().layer(NoopRecorder);

    for threads in [1, 16] {
        let mut group = c.benchmark_group(format!("cardinality_{threads}_threads"));
        let mut bench = |name: &str, recorder: &(dyn Recorder + Sync)| {
            group.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    on_threads(threads, iters, |thread, i| {
                        register_and_record(&recorder, &keys[(i * 7 + thread) % keys.len()]);
                    })
                })
            });
        };
        bench("bare_exporter", &bare);
        bench("guard", &guarded);
        bench("noop_recorder", &NoopRecorder);
        bench("guard_over_noop", &guarded_noop);
        group.finish();
    }

    // Both exporters hold every series, nothing folded.
    for rendered in [bare.handle().render(), guarded.inner().handle().render()] {
        assert!(rendered.contains("bench_metric_0{route=\"/r49\",status=\"200\"}"));
        assert!(rendered.contains("bench_ticks_total"));
        assert!(!rendered.contains("__overflow__"));
    }
}

criterion_group!(benches, cardinality);
criterion_main!(benches);
