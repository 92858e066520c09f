//! `/metrics` renders on the blocking pool: a large exposition never stalls the async
//! worker that also carries calls.

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use voxscope_tests::{serve, with_local_prometheus};

#[test]
fn a_slow_render_does_not_block_other_requests() {
    with_local_prometheus(|handle| async move {
        // About 20,000 histogram series, spread over the catalog's histograms so that each
        // stays under the cardinality cap (2,000 per metric): a render that takes far
        // longer than a request.
        let histograms = voxscope::catalog::ALL
            .iter()
            .filter(|def| def.kind == voxscope::catalog::MetricKind::Histogram);
        for def in histograms {
            for i in 0..1_900 {
                metrics::histogram!(def.name, "route" => format!("/r{i}")).record(0.01);
            }
        }
        let started = Instant::now();
        let render_time = {
            let handle = handle.clone();
            tokio::task::spawn_blocking(move || {
                let start = Instant::now();
                handle.render();
                start.elapsed()
            })
            .await
            .unwrap()
        };
        assert!(render_time > Duration::from_millis(100), "render took only {render_time:?}");

        // This runtime has one thread: if the render ran on it, /health would wait.
        let app = Router::new()
            .route("/health", get(|| async { "ok" }))
            .merge(handle.endpoint().into_router());
        let addr = serve(app).await;
        let scrape = tokio::spawn(async move {
            let body = reqwest::get(format!("http://{addr}/metrics")).await.unwrap().text().await;
            (Instant::now(), body.unwrap().len())
        });
        tokio::time::sleep(render_time / 4).await;
        let health = reqwest::get(format!("http://{addr}/health")).await.unwrap();
        assert_eq!(health.text().await.unwrap(), "ok");
        let health_done = Instant::now();
        let (scrape_done, scraped_bytes) = scrape.await.unwrap();
        assert!(scraped_bytes > 1_000_000);
        assert!(
            health_done < scrape_done,
            "/health answered {:?} after start, the scrape {:?}",
            health_done - started,
            scrape_done - started
        );
    });
}
