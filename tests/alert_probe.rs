//! The endpoint probe of deploy/ end to end: `run-local.sh` starts Debian's Prometheus,
//! Alertmanager and blackbox exporter with the generated configs; the exporter probes
//! the demo's `/health` through the generated scrape job and its relabeling; the demo
//! stops, and Prometheus's alerts API shows `EndpointDown` pending, then firing once
//! its `for` (shortened through `[rules.EndpointDown]`) has passed.

mod alert_support;

use std::time::{Duration, Instant};

use alert_support::{Stack, free_port, get_json, tool, write_deploy};
use serde_json::Value;
use voxscope::alert::{Config, RuleCatalog};
use voxscope_tests::start_demo;

/// `EndpointDown`'s `for` in this test.
const FOR_SECONDS: u64 = 5;

/// The state (`pending`, `firing`) of every EndpointDown alert, with its labels.
async fn endpoint_down(client: &reqwest::Client, prometheus: &str) -> Vec<(String, Value)> {
    let alerts = get_json(client, &format!("{prometheus}/alerts")).await;
    alerts["data"]["alerts"]
        .as_array()
        .map(|alerts| {
            alerts
                .iter()
                .filter(|a| a["labels"]["alertname"] == "EndpointDown")
                .map(|a| (a["state"].as_str().unwrap_or_default().to_owned(), a["labels"].clone()))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_blackbox_probe_of_the_stopped_demo_fires_endpoint_down() {
    let Some(_) = tool("prometheus", "prometheus") else { return };
    let Some(_) = tool("prometheus-alertmanager", "prometheus-alertmanager") else { return };
    let Some(_) = tool("prometheus-blackbox-exporter", "prometheus-blackbox-exporter") else {
        return;
    };
    let Some(sh) = tool("sh", "dash") else { return };
    let started = Instant::now();

    // The demo as the tests start it, on a runtime of its own: dropping that runtime
    // stops it and closes its port.
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop, stopped_rx) = tokio::sync::oneshot::channel::<()>();
    let demo_thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("demo runtime");
        runtime.block_on(async {
            let metrics = voxscope::PrometheusInstaller::new().build().expect("recorder").1;
            let addr = start_demo(&[], |_| None, &metrics).await;
            addr_tx.send(addr).expect("send address");
            let _ = stopped_rx.await;
        });
    });
    let demo = addr_rx.recv_timeout(Duration::from_secs(30)).expect("demo started");

    let toml = format!(
        "[deploy]\nscrape_interval_seconds = 1\nevaluation_interval_seconds = 1\n\
         [rules.EndpointDown]\nfor_seconds = {FOR_SECONDS}\n"
    );
    let catalog = RuleCatalog::new(Config::from_toml(&toml).expect("config")).expect("catalog");
    let dir = write_deploy(&catalog);
    let (prom_port, am_port, bb_port) = (free_port(), free_port(), free_port());
    let _stack = Stack::start(
        &sh,
        dir.path(),
        &[
            ("VOXSCOPE_TARGET", demo.to_string()),
            ("PROMETHEUS_PORT", prom_port.to_string()),
            ("ALERTMANAGER_PORT", am_port.to_string()),
            ("BLACKBOX_PORT", bb_port.to_string()),
        ],
    );
    let client = reqwest::Client::new();
    let prometheus = format!("http://127.0.0.1:{prom_port}/api/v1");

    // The probe succeeds while the demo answers: the URL of its /health is the
    // instance, the job the probes' own.
    let health = format!("http://{demo}/health");
    let query = format!("{prometheus}/query?query=probe_success");
    loop {
        let result = get_json(&client, &query).await;
        let samples = result["data"]["result"].as_array().cloned().unwrap_or_default();
        if let [sample] = &samples[..]
            && sample["value"][1] == "1"
        {
            assert_eq!(sample["metric"]["instance"], health.as_str());
            assert_eq!(sample["metric"]["job"], "blackbox");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no successful probe: {result}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(endpoint_down(&client, &prometheus).await, []);

    // The demo stops: pending at the next evaluation, firing `for` later.
    let _ = stop.send(());
    demo_thread.join().expect("demo stopped");
    let stopped = Instant::now();
    let mut pending_at = None;
    let (fired_at, labels) = loop {
        let alerts = endpoint_down(&client, &prometheus).await;
        match &alerts[..] {
            [(state, _)] if state == "pending" => {
                pending_at.get_or_insert(stopped.elapsed());
            }
            [(state, labels)] if state == "firing" => break (stopped.elapsed(), labels.clone()),
            [] => {}
            other => panic!("one EndpointDown expected: {other:?}"),
        }
        assert!(stopped.elapsed() < Duration::from_secs(40), "EndpointDown did not fire");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let pending_at = pending_at.expect("pending before firing");
    assert!(
        fired_at >= pending_at + Duration::from_secs(FOR_SECONDS - 1),
        "fired {fired_at:?} after the stop, pending at {pending_at:?}"
    );
    assert_eq!(
        labels,
        serde_json::json!({
            "alertname": "EndpointDown",
            "category": "availability",
            "instance": health,
            "job": "blackbox",
            "severity": "critical",
        })
    );
    assert!(started.elapsed() < Duration::from_secs(120));
}
