//! The HTTP metrics layer under concurrency: 1 and 16 tasks at once on the multi-thread
//! runtime (one worker per core), each sending requests through its clone of the same
//! router, against the same router without the layer, in one run.
//!
//! `cargo bench -p voxscope-benches --bench http_layer_mt -- --warm-up-time 1 --measurement-time 3`
//!
//! Each request is `GET /calls/42` through `tower::ServiceExt::oneshot` on a trivial axum
//! router, body collected (the layer records when it ends). Every task records into the
//! same series of one global Prometheus recorder installed by voxscope, so shared counters
//! and histograms are written from every worker at once. The figure is wall time per
//! request: with 16 tasks on 2 cores, no contention means about half the 1-task figure.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt;
use tower::ServiceExt;
use voxscope::HttpMetricsLayer;
use voxscope_benches::{TASKS, call_request, multi_thread_runtime, on_tasks, trivial_router};

async fn requests(app: Router, count: u64) {
    for _ in 0..count {
        let Ok(response) = app.clone().oneshot(call_request()).await;
        assert_eq!(response.status(), 200);
        let _ = response.into_body().collect().await;
    }
}

fn http_layer_mt(c: &mut Criterion) {
    let (Ok(metrics), Some(runtime)) = (voxscope::install(), multi_thread_runtime()) else {
        eprintln!("could not install the recorder or build the runtime");
        return;
    };
    let variants = [
        ("bare", trivial_router().with_state(())),
        ("voxscope", trivial_router().layer(HttpMetricsLayer::new()).with_state(())),
    ];
    let layered = AtomicU64::new(0);
    for tasks in TASKS {
        let mut group = c.benchmark_group(format!("http_layer_mt_{tasks}_tasks"));
        for (name, app) in &variants {
            group.bench_function(*name, |b| {
                b.iter_custom(|iters| {
                    if *name == "voxscope" {
                        layered.fetch_add(iters * tasks as u64, Ordering::Relaxed);
                    }
                    on_tasks(&runtime, tasks, |_| requests(app.clone(), iters)).0
                })
            });
        }
        group.finish();
    }

    // Every request of the layered router was recorded, none lost between the workers.
    let recorded: f64 = metrics
        .render()
        .lines()
        .filter(|line| line.starts_with("http_server_request_duration_seconds_count{"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(recorded, layered.load(Ordering::Relaxed) as f64);
}

criterion_group!(benches, http_layer_mt);
criterion_main!(benches);
