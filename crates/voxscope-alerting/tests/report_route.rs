//! `GET /api/v1/report` on a running engine, on tokio's paused clock: the figures of the
//! service's own exposition, scraped every interval into the engine's store.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;
use voxscope_alert::eval::StorageLimits;
use voxscope_alert::{Config, RuleCatalog};
use voxscope_alerting::{AlertEngine, Clock};

const T0: i64 = 1_700_000_000_000;

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, String, String) {
    let request = Request::get(uri).body(Body::empty()).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let kind = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, kind, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test(start_paused = true)]
async fn the_report_reads_the_engines_own_samples() {
    let config =
        Config::from_toml("[engine]\ninterval_seconds = 60\n[report]\nerror_rate = 0.05\n")
            .unwrap();
    let catalog = RuleCatalog::new(config).unwrap();
    // Each scrape, 49 requests answered 200 and one 500: 2 % errors; a fallback
    // chain's turns, one in ten falling back.
    let scrapes = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&scrapes);
    let render = move || {
        let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
        format!(
            "http_server_request_duration_seconds_count{{method=\"GET\",route=\"/\",status=\"200\"}} {}\n\
             http_server_request_duration_seconds_count{{method=\"GET\",route=\"/\",status=\"500\"}} {n}\n\
             voice_provider_chain_duration_seconds_count{{kind=\"tts\"}} {}\n\
             voice_provider_fallbacks_total{{kind=\"tts\",from=\"a\",to=\"b\",reason=\"timeout\"}} {n}\n\
             voxscope_config_missing{{field=\"llm.api_key\"}} 0\n",
            49 * n,
            10 * n
        )
    };
    let limits = StorageLimits::default();
    let engine = AlertEngine::builder(catalog)
        .scrape(render)
        .clock(Clock::starting_at(T0))
        .storage_limits(limits)
        .start()
        .unwrap();
    let app = engine.router();
    // 12 minutes of evaluations, one a minute.
    tokio::time::sleep(Duration::from_secs(12 * 60)).await;
    let n = scrapes.load(Ordering::Relaxed);
    assert!(n >= 11, "{n} scrapes");

    let (status, kind, body) = get(&app, "/api/v1/report?since=10m&format=json").await;
    assert_eq!((status, kind.as_str()), (StatusCode::OK, "application/json"), "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["period"], "10m");
    let end = report["end_ms"].as_i64().unwrap();
    assert!((T0 + 720_000..T0 + 780_000).contains(&end), "{end}");
    let kpi = |key: &str| {
        report["kpis"].as_array().unwrap().iter().find(|k| k["key"] == key).unwrap().clone()
    };
    let figure = |key: &str| kpi(key)["actual"].as_f64().unwrap();
    assert!((figure("error_rate") - 0.02).abs() < 1e-9, "{}", figure("error_rate"));
    assert_eq!(kpi("error_rate")["status"], "met", "the config's 5 % target");
    assert!((figure("fallback_rate") - 0.1).abs() < 1e-9);
    assert_eq!(kpi("fallback_rate")["status"], "missed");
    // Every step of the 10 minutes read `up` = 1 from the engine's scrape.
    assert_eq!((figure("uptime"), figure("config_warnings")), (1.0, 0.0));
    assert_eq!(kpi("tts_ttfb_p95")["status"], "no_data");
    let http = report["slos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "http-availability")
        .unwrap();
    assert!((http["error_ratio"].as_f64().unwrap() - 0.02).abs() < 1e-9);
    assert_eq!(http["status"], "missed");
    let (status, kind, page) = get(&app, "/api/v1/report").await;
    assert_eq!((status, kind.as_str()), (StatusCode::OK, "text/html; charset=utf-8"));
    assert!(page.contains("<h1>KPI report") && page.contains("Period 7d"), "{page}");
    let (status, kind, text) = get(&app, "/api/v1/report?since=10m&format=md").await;
    assert_eq!((status, kind.as_str()), (StatusCode::OK, "text/markdown; charset=utf-8"));
    assert!(text.contains("| Error rate | ≤ 5% | 2% | met |"), "{text}");

    for bad in ["since=yesterday", "since=90d", "since=0s", "format=pdf"] {
        let (status, _, body) = get(&app, &format!("/api/v1/report?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(body.contains("\"errorType\":\"bad_data\""), "{body}");
    }
    engine.shutdown(Duration::from_secs(1)).await;
}
