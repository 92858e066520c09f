//! What a disabled metric family costs per request: the voxscope HTTP layer on a
//! trivial axum router, through `tower::ServiceExt::oneshot`, body collected, recording
//! into a recorder with the `http` family on, one with it off (`enabled_metrics` without
//! `http`), and no recorder at all; `bare` is the router without the layer.
//!
//! `cargo bench -p voxscope-benches --bench families`
//!
//! Each recorder is built by voxscope's installer, not installed: it is the thread's
//! local recorder while its variants run (the runtime is single-threaded), and the
//! layer is built under it, as a service builds its layers after installing.

use axum::Router;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt;
use tower::ServiceExt;
use voxscope::catalog::AppCatalog;
use voxscope::families::{self, Families};
use voxscope::{HttpMetricsLayer, PrometheusInstaller};
use voxscope_benches::{call_request, trivial_router};

fn one_request(app: &Router) -> impl Future<Output = ()> + use<> {
    let app = app.clone();
    async move {
        let Ok(response) = app.oneshot(call_request()).await;
        let _ = response.into_body().collect().await;
    }
}

fn layered() -> Router {
    trivial_router().layer(HttpMetricsLayer::new()).with_state(())
}

fn families_bench(c: &mut Criterion) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
        eprintln!("could not build the runtime");
        return;
    };
    let app = AppCatalog::new();
    let without_http: Vec<&str> =
        families::BUILT_IN.iter().copied().filter(|f| *f != families::HTTP).collect();
    let Ok(http_off) = Families::only(without_http, &app) else { return };
    let mut group = c.benchmark_group("families");
    let bare = trivial_router().with_state(());
    group.bench_function("bare", |b| b.to_async(&runtime).iter(|| one_request(&bare)));
    let no_recorder = layered();
    group
        .bench_function("no_recorder", |b| b.to_async(&runtime).iter(|| one_request(&no_recorder)));
    for (name, families) in [("http_on", Families::all()), ("http_off", http_off)] {
        let Ok((recorder, handle)) = PrometheusInstaller::new().families(families).build() else {
            eprintln!("could not build the recorder");
            return;
        };
        metrics::with_local_recorder(&recorder, || {
            let app = layered();
            group.bench_function(name, |b| b.to_async(&runtime).iter(|| one_request(&app)));
        });
        // The enabled family really recorded, the disabled one did not.
        let recorded = handle.render().contains("http_server_request_duration_seconds_count");
        assert_eq!(recorded, name == "http_on", "{name}");
    }
    group.finish();
}

criterion_group!(benches, families_bench);
criterion_main!(benches);
