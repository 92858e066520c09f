//! deploy/run-local.sh end to end: Debian's Prometheus and Alertmanager started by the
//! generated script with the generated configs, scraping the demo on loopback. The target
//! is up, every rule group is loaded, and the alert of an injected fault (a stalled TTS
//! provider) reaches Alertmanager and its webhook receiver exactly once.

mod alert_support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alert_support::{Stack, free_port, get_json, tool, write_deploy};
use axum::routing::post;
use serde_json::Value;
use voxscope::alert::{Config, RuleCatalog};
use voxscope_tests::serve;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_local_sh_scrapes_the_demo_and_delivers_a_faults_alert_once() {
    let Some(_) = tool("prometheus", "prometheus") else { return };
    let Some(_) = tool("prometheus-alertmanager", "prometheus-alertmanager") else { return };
    let Some(sh) = tool("sh", "dash") else { return };
    let started = Instant::now();

    // The demo, its TTS primary answering 700 ms late: over the 0.5 s TTFB warning,
    // under the 1 s first-byte timeout, so no fallback hides it. Its keys are set.
    let metrics = voxscope::PrometheusInstaller::new().install().expect("install recorder");
    let key = |name: &str| {
        voice_agent::providers::KEY_VARS.contains(&name).then(|| "a-long-enough-key".to_owned())
    };
    let args = ["voice_agent", "--faults=tts.primary=stall:700ms"];
    let config = voice_agent::config::Config::parse(args, key).expect("config");
    let tracing =
        voxscope::trace::TracePipeline::new(&voxscope::trace::TraceConfig::new("voice_agent"))
            .expect("trace pipeline");
    let app = voice_agent::service(&config, &metrics, &tracing).expect("demo");
    let demo = serve(app).await;
    let traffic = tokio::spawn(alert_support::drive_traffic(format!("http://{demo}")));

    // The receivers: notifications by path.
    let received: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let sink = Arc::clone(&received);
    let hook = axum::Router::new().route(
        "/{path}",
        post(
            move |axum::extract::Path(path): axum::extract::Path<String>,
                  body: axum::Json<Value>| {
                let sink = Arc::clone(&sink);
                async move { sink.lock().expect("lock").push((path, body.0)) }
            },
        ),
    );
    let hook = serve(hook).await;

    // Production configs, with intervals a test can wait for, and the TTFB warning sent
    // at once to the webhook (info alerts route there).
    let toml = r#"
        [deploy]
        scrape_interval_seconds = 1
        evaluation_interval_seconds = 1
        [alertmanager]
        group_wait_seconds = 1
        group_interval_seconds = 1
        [rules."HighProviderTTFB/warning"]
        severity = "info"
        for_seconds = 0
    "#;
    let catalog = RuleCatalog::new(Config::from_toml(toml).expect("config")).expect("catalog");
    let dir = write_deploy(&catalog);
    let (prom_port, am_port) = (free_port(), free_port());
    let _stack = Stack::start(
        &sh,
        dir.path(),
        &[
            ("VOXSCOPE_TARGET", demo.to_string()),
            ("PROMETHEUS_PORT", prom_port.to_string()),
            ("ALERTMANAGER_PORT", am_port.to_string()),
            ("VOXSCOPE_WEBHOOK_URL", format!("http://{hook}/default")),
            ("VOXSCOPE_WATCHDOG_URL", format!("http://{hook}/watchdog")),
        ],
    );
    let client = reqwest::Client::new();
    let prometheus = format!("http://127.0.0.1:{prom_port}/api/v1");

    // The demo's target up, and both rule groups loaded with every rule.
    loop {
        let targets = get_json(&client, &format!("{prometheus}/targets")).await;
        let up = targets["data"]["activeTargets"].as_array().is_some_and(|targets| {
            targets.iter().any(|t| t["labels"]["job"] == "voice_agent" && t["health"] == "up")
        });
        if up {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "demo target not up: {targets}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let rules = get_json(&client, &format!("{prometheus}/rules")).await;
    let groups: BTreeMap<String, usize> = rules["data"]["groups"]
        .as_array()
        .expect("rule groups")
        .iter()
        .map(|g| {
            let name = g["name"].as_str().unwrap_or_default().to_owned();
            (name, g["rules"].as_array().map_or(0, Vec::len))
        })
        .collect();
    assert_eq!(
        groups,
        BTreeMap::from([
            ("voxscope-alerts".to_owned(), catalog.alerts.len()),
            ("voxscope-slo-recordings".to_owned(), catalog.recording.len()),
        ])
    );

    // The stalled provider's alert at the webhook; then a few group intervals more.
    let ttfb_notifications = || {
        received
            .lock()
            .expect("lock")
            .iter()
            .filter(|(path, _)| path == "default")
            .map(|(_, body)| body.clone())
            .collect::<Vec<Value>>()
    };
    while ttfb_notifications().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(80),
            "no notification at the webhook; alerts: {}",
            get_json(&client, &format!("{prometheus}/alerts")).await
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let notifications = ttfb_notifications();
    assert_eq!(notifications.len(), 1, "{notifications:?}");
    let alerts = notifications[0]["alerts"].as_array().cloned().unwrap_or_default();
    let labels: Vec<(String, String, String)> = alerts
        .iter()
        .map(|a| {
            let text = |k: &str| a["labels"][k].as_str().unwrap_or_default().to_owned();
            (text("alertname"), text("kind"), text("provider"))
        })
        .collect();
    assert_eq!(
        labels,
        [("HighProviderTTFB".to_owned(), "tts".to_owned(), "elevenlabs".to_owned())]
    );
    assert_eq!(notifications[0]["status"], "firing");
    // The Watchdog heartbeat reaches its own receiver; Prometheus drops what fires
    // before it has found Alertmanager and resends a minute later.
    let alertmanager = format!("http://127.0.0.1:{am_port}/api/v2/alerts");
    let heartbeats =
        || received.lock().expect("lock").iter().filter(|(p, _)| p == "watchdog").count();
    while heartbeats() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(100),
            "no Watchdog heartbeat: {}",
            get_json(&client, &alertmanager).await
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    traffic.abort();
}
