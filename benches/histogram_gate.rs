//! What the drain gate adds to a histogram record: voxscope's recorder (each histogram
//! behind the gate that keeps records out of the exporter's drains, so that none is
//! lost) against the same metrics-exporter-prometheus histogram without the gate, in
//! the same run.
//!
//! `cargo bench -p voxscope-benches --bench histogram_gate -- --warm-up-time 1 --measurement-time 3`
//!
//! One iteration is one `record` of a labelled histogram series, from 1 thread and from 4
//! threads at once (wall time divided by the records), with the exporter's upkeep run
//! between samples, outside the timing, so that the buffers stay small. After the timed
//! runs it records from 4 threads beside a thread that renders and runs the upkeep in a
//! loop, through each recorder, and prints how many samples each one counted of those
//! recorded: the gated one must count them all.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use metrics::{Histogram, Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use voxscope::{MetricsHandle, PrometheusInstaller};

const NAME: &str = "http_server_request_duration_seconds";

static META: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

fn key() -> Key {
    Key::from_parts(
        NAME,
        vec![
            Label::new("method", "GET"),
            Label::new("route", "/calls/{id}"),
            Label::new("status", "200"),
        ],
    )
}

/// `iters` records split over `threads`, timed together.
fn record(histogram: &Histogram, threads: u64, iters: u64) -> Duration {
    let began = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                for _ in 0..iters / threads {
                    histogram.record(0.25);
                }
            });
        }
    });
    began.elapsed()
}

/// The `_count` of the series in `exposition`.
fn count(exposition: &str) -> u64 {
    exposition
        .lines()
        .find(|line| line.starts_with(&format!("{NAME}_count{{")))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

fn histogram_gate(c: &mut Criterion) {
    let Ok((gated_recorder, gated_handle)) = PrometheusInstaller::new().build() else {
        eprintln!("could not build voxscope's recorder");
        return;
    };
    let Ok(plain_builder) = PrometheusBuilder::new().set_buckets(&[0.1, 0.5, 1.0]) else {
        eprintln!("could not build the plain recorder");
        return;
    };
    let plain_recorder = plain_builder.build_recorder();
    let plain_handle = plain_recorder.handle();
    let gated = gated_recorder.register_histogram(&key(), &META);
    let plain = plain_recorder.register_histogram(&key(), &META);
    let variants = [
        ("exporter", plain, Drains::Exporter(plain_handle)),
        ("voxscope_gated", gated, Drains::Gated(gated_handle)),
    ];

    let mut group = c.benchmark_group("histogram_record");
    for threads in [1_u64, 4] {
        for (name, histogram, drains) in &variants {
            group.bench_function(format!("{name}/{threads}_threads"), |b| {
                b.iter_custom(|iters| {
                    let took = record(histogram, threads, iters.max(threads));
                    drains.upkeep();
                    took
                })
            });
        }
    }
    group.finish();

    // Counted against recorded, beside a thread that renders in a loop.
    const RECORDS: u64 = 2_000_000;
    for (name, histogram, drains) in &variants {
        let before = count(&drains.render());
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let _ = drains.render();
                }
            });
            record(histogram, 4, RECORDS);
            stop.store(true, Ordering::Relaxed);
        });
        let counted = count(&drains.render()) - before;
        println!("histogram_record/{name}: counted {counted} of {RECORDS} recorded beside renders");
        if matches!(drains, Drains::Gated(_)) {
            assert_eq!(counted, RECORDS, "the gate keeps every sample");
        }
    }
}

/// How each recorder renders and runs its upkeep.
enum Drains {
    Exporter(PrometheusHandle),
    Gated(MetricsHandle),
}

impl Drains {
    fn upkeep(&self) {
        match self {
            Self::Exporter(handle) => handle.run_upkeep(),
            Self::Gated(handle) => handle.run_upkeep(),
        }
    }

    fn render(&self) -> String {
        match self {
            Self::Exporter(handle) => handle.render(),
            Self::Gated(handle) => handle.render(),
        }
    }
}

criterion_group!(benches, histogram_gate);
criterion_main!(benches);
