//! What the embedded alerting engine costs the service it watches, and how fast it
//! notifies.
//!
//! `cargo bench -p voxscope-benches --bench alert_engine -- --warm-up-time 1 --measurement-time 5`
//!
//! - `http_layer/engine_off` and `http_layer/engine_on`: one request through
//!   `HttpMetricsLayer` on a trivial router, driven from the bench thread of a runtime
//!   with one worker, first without the engine, then with it evaluating the default
//!   catalog every second (five times its default rate) on that worker, over the same
//!   recorder the requests fill: what the engine's scrapes and evaluations take from
//!   the requests is contention on the recorder, which this measures.
//! - `fire_to_receipt`: from the evaluation that fires an alert to a webhook on
//!   loopback holding its notification (`group_wait` 0), through the notifier, the
//!   delivery queue, reqwest and a real HTTP server. The target is 30 s.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt;
use tokio::sync::Notify;
use tower::ServiceExt;
use voxscope::HttpMetricsLayer;
use voxscope::alert::{Config, RuleCatalog};
use voxscope::alerting::AlertEngine;
use voxscope_benches::{call_request, trivial_router};

fn one_request(app: &Router) -> impl Future<Output = ()> + use<> {
    let app = app.clone();
    async move {
        let Ok(response) = app.oneshot(call_request()).await;
        let _ = response.into_body().collect().await;
    }
}

fn engine_config(extra: &str) -> Option<RuleCatalog> {
    let text = format!("[engine]\ninterval_seconds = 1\n{extra}");
    Config::from_toml(&text).ok().and_then(|config| RuleCatalog::new(config).ok())
}

fn http_layer(c: &mut Criterion) {
    let metrics = voxscope::install().ok();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().ok();
    let (Some(metrics), Some(runtime), Some(catalog)) = (metrics, runtime, engine_config(""))
    else {
        eprintln!("could not install the recorder, build the runtime or the catalog");
        return;
    };
    let app = trivial_router().layer(HttpMetricsLayer::new()).with_state(());
    let mut group = c.benchmark_group("http_layer");
    group.bench_function("engine_off", |b| b.to_async(&runtime).iter(|| one_request(&app)));
    let render = metrics.clone();
    let engine = runtime.block_on(async {
        AlertEngine::builder(catalog).scrape(move || render.render()).start().ok()
    });
    let Some(engine) = engine else {
        eprintln!("the engine did not start");
        return;
    };
    group.bench_function("engine_on", |b| b.to_async(&runtime).iter(|| one_request(&app)));
    group.finish();
    let evaluations = metrics.render().lines().find_map(|line| {
        line.strip_prefix("voxscope_alert_evaluation_duration_seconds_count ")
            .and_then(|n| n.parse::<f64>().ok())
    });
    eprintln!("evaluations while engine_on ran: {evaluations:?}");
    runtime.block_on(engine.shutdown(Duration::from_secs(1)));
}

fn fire_to_receipt(c: &mut Criterion) {
    let Some(runtime) =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().ok()
    else {
        return;
    };
    let received = Arc::new(Notify::new());
    let notify = Arc::clone(&received);
    let hook = Router::new().route(
        "/hook",
        post(move || {
            let notify = Arc::clone(&notify);
            async move {
                notify.notify_one();
                "ok"
            }
        }),
    );
    let Some(listener) = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).ok() else {
        return;
    };
    let Ok(addr) = listener.local_addr() else { return };
    runtime.spawn(async move { axum::serve(listener, hook).await });
    // A live call makes the rule fire at an engine's first evaluation; each iteration
    // starts a fresh engine (untimed), so its group is new and leaves at once
    // (group_wait 0), and stops it afterwards (untimed).
    let token = std::env::temp_dir().join(format!("voxscope-bench-token-{}", std::process::id()));
    if std::fs::write(&token, "bench").is_err() {
        return;
    }
    let extra = format!(
        "[rules.Watchdog]\ndisabled = true\n\
         [alertmanager]\ngroup_wait_seconds = 0\nwebhook_url = \"http://{addr}/hook\"\n\
         webhook_token_file = \"{}\"\n\
         [[custom_rules]]\nname = \"CallsLive\"\nmetric = \"voice_calls_active\"\n\
         above = 0.5\nfor_seconds = 0\nseverity = \"info\"\n",
        token.display()
    );
    let Some(catalog) = engine_config(&extra) else {
        eprintln!("the bench's alert config is invalid");
        return;
    };
    let Ok((recorder, handle)) = voxscope::builder().build() else { return };
    metrics::with_local_recorder(&recorder, || {
        metrics::gauge!("voice_calls_active", "transport" => "twilio").set(1.0);
    });
    let mut group = c.benchmark_group("alert_engine");
    group.sample_size(20);
    group.bench_function("fire_to_receipt", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let render = handle.clone();
                let builder = AlertEngine::builder(catalog.clone()).scrape(move || render.render());
                let Some(engine) = runtime.block_on(async { builder.start().ok() }) else {
                    return total;
                };
                let started = Instant::now();
                engine.evaluate_now();
                runtime.block_on(async {
                    let _ =
                        tokio::time::timeout(Duration::from_secs(30), received.notified()).await;
                });
                total += started.elapsed();
                runtime.block_on(engine.shutdown(Duration::from_millis(100)));
            }
            total
        });
    });
    group.finish();
    let _ = std::fs::remove_file(&token);
}

criterion_group!(benches, http_layer, fire_to_receipt);
criterion_main!(benches);
