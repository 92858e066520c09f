//! The embedded engine as a service runs it: its own metrics scraped, a rule firing,
//! the notification at a real webhook on loopback, resolved once; alerts and rules on
//! its API; a restart that brings a firing alert back firing.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;
use tower::ServiceExt;
use voxscope::alert::{Config, RuleCatalog};
use voxscope_alerting::delivery::Delivery;
use voxscope_alerting::{AlertEngine, Clock, channel};
use voxscope_tests::{
    Exposition, eventually, serve, with_local_prometheus, with_local_prometheus_paused,
};

/// A custom rule on the live-call gauge, no `for`: it fires at the evaluation that sees
/// a live call. The loop itself runs hourly, so the test drives every evaluation; the
/// always-firing Watchdog heartbeat is off, so every count is this rule's.
fn config(extra: &str) -> Config {
    let text = format!(
        r#"
        [engine]
        interval_seconds = 3600
        [alertmanager]
        group_wait_seconds = 0
        group_interval_seconds = 1
        {extra}
        [rules.Watchdog]
        disabled = true
        [[custom_rules]]
        name = "CallsLive"
        metric = "voice_calls_active"
        above = 0.5
        for_seconds = 0
        severity = "info"
        summary = "A call is live"
        "#
    );
    Config::from_toml(&text).expect("config")
}

type Received = Arc<Mutex<Vec<(Instant, serde_json::Value)>>>;

async fn webhook() -> (String, Received) {
    let received: Received = Arc::default();
    let sink = Arc::clone(&received);
    let app = Router::new().route(
        "/hook",
        post(move |body: Bytes| {
            let sink = Arc::clone(&sink);
            async move {
                let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                sink.lock().unwrap().push((Instant::now(), json));
                "ok"
            }
        }),
    );
    let addr = serve(app).await;
    (format!("http://{addr}/hook"), received)
}

async fn get_json(app: &Router, uri: &str) -> serde_json::Value {
    let request = axum::http::Request::get(uri).body(axum::body::Body::empty()).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200, "{uri}");
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    serde_json::from_slice(&body).unwrap()
}

#[test]
fn a_rule_fires_on_the_services_own_metrics_notifies_a_webhook_and_resolves_once() {
    let handle = with_local_prometheus(|handle| async move {
        let (url, received) = webhook().await;
        let dir = std::env::temp_dir().join(format!("voxscope-engine-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("token"), "hook-token\n").unwrap();
        let extra = format!(
            "webhook_url = \"{url}\"\nwebhook_token_file = \"{}\"",
            dir.join("token").display()
        );
        let catalog = RuleCatalog::new(config(&extra)).unwrap();
        let render = handle.clone();
        let engine = AlertEngine::builder(catalog).scrape(move || render.render()).start().unwrap();
        let api = engine.router();

        assert_eq!(engine.evaluate_now(), 0, "no call, nothing fires");
        metrics::gauge!("voice_calls_active", "transport" => "twilio").set(1.0);
        let fired_at = Instant::now();
        assert_eq!(engine.evaluate_now(), 1);
        let delivered = eventually(Duration::from_secs(10), || received.lock().unwrap().len() == 1);
        assert!(delivered.await, "the webhook got the firing notification");
        let (at, firing) = received.lock().unwrap()[0].clone();
        eprintln!("evaluation to webhook receipt: {:?}", at.duration_since(fired_at));
        assert_eq!(firing["status"], "firing");
        assert_eq!(firing["receiver"], "default");
        assert_eq!(firing["version"], "4");
        assert_eq!(firing["alerts"][0]["labels"]["alertname"], "CallsLive");
        assert_eq!(firing["alerts"][0]["labels"]["job"], "voice_agent");
        assert_eq!(firing["alerts"][0]["annotations"]["summary"], "A call is live");

        let exposition = Exposition::render(&handle);
        let firing_gauge = [("alertname", "CallsLive"), ("severity", "info")];
        assert_eq!(exposition.sum("voxscope_alerts_firing", &firing_gauge), 1.0);
        assert_eq!(exposition.count("voxscope_alert_evaluation_duration_seconds", &[]), 2);
        // The history gauges are what the store held after that evaluation.
        let stats = engine.with_storage(voxscope::alert::eval::Storage::stats);
        assert!(stats.series > 10 && stats.raw_samples >= stats.series, "{stats:?}");
        assert_eq!(exposition.sum("voxscope_history_series", &[]), stats.series as f64);
        assert_eq!(exposition.sum("voxscope_history_bytes", &[]), stats.bytes as f64);
        for (tier, held) in [
            ("raw", stats.raw_samples),
            ("aggregate", stats.aggregate_steps),
            ("summary", stats.summary_steps),
        ] {
            assert_eq!(exposition.sum("voxscope_history_samples", &[("tier", tier)]), held as f64);
        }

        let alerts = get_json(&api, "/api/v1/alerts").await;
        let listed = &alerts["data"]["alerts"];
        assert_eq!(listed.as_array().map(Vec::len), Some(1), "{alerts}");
        assert_eq!(listed[0]["state"], "firing");
        assert_eq!(listed[0]["value"], "1e+00");
        let rules = get_json(&api, "/api/v1/rules?type=alert&rule_name[]=CallsLive").await;
        let rule = &rules["data"]["groups"][0]["rules"][0];
        assert_eq!(
            (rule["name"].as_str(), rule["state"].as_str()),
            (Some("CallsLive"), Some("firing"))
        );
        let am = get_json(&api, "/alertmanager/api/v2/alerts").await;
        assert_eq!(am[0]["receivers"][0]["name"], "default", "{am}");

        metrics::gauge!("voice_calls_active", "transport" => "twilio").set(0.0);
        assert_eq!(engine.evaluate_now(), 0);
        let resolved = eventually(Duration::from_secs(10), || received.lock().unwrap().len() == 2);
        assert!(resolved.await, "the webhook got the resolved notification");
        assert_eq!(received.lock().unwrap()[1].1["status"], "resolved");
        // Further evaluations and group flushes send nothing more.
        for _ in 0..3 {
            engine.evaluate_now();
            tokio::time::sleep(Duration::from_millis(1_100)).await;
        }
        assert_eq!(received.lock().unwrap().len(), 2, "resolved is sent once");
        let exposition = Exposition::render(&handle);
        assert_eq!(exposition.sum("voxscope_alerts_firing", &firing_gauge), 0.0);
        let sent = [("channel", "webhook"), ("result", "success")];
        assert_eq!(exposition.sum("voxscope_notifications_total", &sent), 2.0);
        assert_eq!(engine.shutdown(Duration::from_secs(1)).await, 0);
        let _ = std::fs::remove_dir_all(&dir);
    });
    drop(handle);
}

#[test]
fn a_restart_brings_a_firing_alert_back_firing_with_its_start() {
    with_local_prometheus_paused(|handle| async move {
        let dir =
            std::env::temp_dir().join(format!("voxscope-engine-state-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let text = format!(
            r#"
            [engine]
            interval_seconds = 3600
            state_dir = "{}"
            [rules.Watchdog]
            disabled = true
            [[custom_rules]]
            name = "CallsLive"
            metric = "voice_calls_active"
            above = 0.5
            for_seconds = 600
            severity = "warning"
            "#,
            dir.display()
        );
        let config = Config::from_toml(&text).unwrap();
        let clock = Clock::starting_at(1_800_000_000_000);
        let start = |config: &Config| {
            let render = handle.clone();
            let delivery = Delivery::new(&config.delivery, channel::log_only(config), None);
            AlertEngine::builder(RuleCatalog::new(config.clone()).unwrap())
                .scrape(move || render.render())
                .delivery(delivery)
                .clock(clock)
                .start()
                .unwrap()
        };
        let state = |engine: &AlertEngine| {
            let api = engine.router();
            async move {
                let alerts = get_json(&api, "/api/v1/alerts").await;
                let alert = alerts["data"]["alerts"][0].clone();
                (
                    alert["state"].as_str().map(str::to_owned),
                    alert["activeAt"].as_str().map(str::to_owned),
                )
            }
        };

        metrics::gauge!("voice_calls_active", "transport" => "twilio").set(1.0);
        let engine = start(&config);
        engine.evaluate_now();
        let (pending, active_at) = state(&engine).await;
        assert_eq!(pending.as_deref(), Some("pending"));
        tokio::time::advance(Duration::from_secs(600)).await;
        assert_eq!(engine.evaluate_now(), 1);
        assert_eq!(state(&engine).await, (Some("firing".to_owned()), active_at.clone()));
        engine.shutdown(Duration::from_secs(1)).await;

        tokio::time::advance(Duration::from_secs(30)).await;
        let restarted = start(&config);
        assert_eq!(restarted.evaluate_now(), 1, "firing at the first evaluation, not pending");
        assert_eq!(state(&restarted).await, (Some("firing".to_owned()), active_at));
        restarted.shutdown(Duration::from_secs(1)).await;
        let _ = std::fs::remove_dir_all(&dir);
    });
}

#[test]
fn a_scaled_clock_evaluates_and_counts_for_durations_that_many_times_faster() {
    with_local_prometheus_paused(|handle| async move {
        let text = r#"
            [engine]
            interval_seconds = 5
            [rules.Watchdog]
            disabled = true
            [[custom_rules]]
            name = "CallsLive"
            metric = "voice_calls_active"
            above = 0.5
            for_seconds = 60
            severity = "info"
        "#;
        let config = Config::from_toml(text).unwrap();
        let render = handle.clone();
        let delivery = Delivery::new(&config.delivery, channel::log_only(&config), None);
        let start_ms = 1_800_000_000_000;
        let engine = AlertEngine::builder(RuleCatalog::new(config).unwrap())
            .scrape(move || render.render())
            .delivery(delivery)
            .clock(Clock::starting_at(start_ms).scaled(10))
            .start()
            .unwrap();
        let api = engine.router();
        let state = || {
            let api = api.clone();
            async move {
                let alerts = get_json(&api, "/api/v1/alerts").await;
                let alert = &alerts["data"]["alerts"][0];
                (alert["state"].as_str().map(str::to_owned), alert["activeAt"].clone())
            }
        };
        metrics::gauge!("voice_calls_active", "transport" => "twilio").set(1.0);
        // The loop evaluates every 5 s of the engine's clock: every 0.5 s of tokio's.
        tokio::time::sleep(Duration::from_millis(550)).await;
        assert_eq!(engine.clock().now_ms(), start_ms + 5_500);
        let (pending, active_at) = state().await;
        assert_eq!(pending.as_deref(), Some("pending"));
        assert_eq!(active_at, "2027-01-15T08:00:05.000Z", "active since the first evaluation");
        // `for: 60s` holds from 5 s to 65 s of the engine's clock: 6 s of tokio's.
        tokio::time::sleep(Duration::from_millis(5_900)).await;
        assert_eq!(state().await.0.as_deref(), Some("pending"), "at 64.5 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(state().await, (Some("firing".to_owned()), active_at));
        engine.shutdown(Duration::from_secs(1)).await;
    });
}
