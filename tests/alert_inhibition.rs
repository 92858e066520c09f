//! The generated Alertmanager config in a real Alertmanager on loopback: a critical
//! alert inhibits the warning of the same alertname and subject, and nothing else; a
//! cause mutes its consequences, so a provider outage, a lost job or a missing key
//! notifies once.

mod alert_support;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alert_support::{Daemon, TempDir, free_port, tool, write_deploy};
use axum::routing::post;
use serde_json::{Value, json};
use voxscope::alert::{Config, RuleCatalog, alertmanager, deploy};
use voxscope_tests::serve;

fn ttfb(severity: &str, kind: &str) -> Value {
    json!({"labels": {
        "alertname": "HighProviderTTFB",
        "severity": severity,
        "category": "performance",
        "kind": kind,
        "provider": "acme",
    }})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn critical_inhibits_the_warning_of_the_same_alert_and_subject_only() {
    let Some(binary) = tool("prometheus-alertmanager", "prometheus-alertmanager") else { return };
    let dir = write_deploy(&RuleCatalog::new(Config::default()).expect("catalog"));
    let port = free_port();
    let child = Command::new(binary)
        .arg(format!("--config.file={}", dir.path().join(deploy::ALERTMANAGER).display()))
        .arg(format!("--storage.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start alertmanager");
    let _alertmanager = Daemon::new(child, dir);
    let base = format!("http://127.0.0.1:{port}/api/v2");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);

    let alerts = json!([ttfb("critical", "llm"), ttfb("warning", "llm"), ttfb("warning", "tts")]);
    loop {
        let posted = client.post(format!("{base}/alerts")).json(&alerts).send().await;
        if posted.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        assert!(Instant::now() < deadline, "Alertmanager did not start");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let state = |alerts: &[Value], severity: &str, kind: &str| -> Option<String> {
        alerts
            .iter()
            .find(|a| a["labels"]["severity"] == severity && a["labels"]["kind"] == kind)
            .and_then(|a| a["status"]["state"].as_str().map(str::to_owned))
    };
    loop {
        let got: Vec<Value> = client
            .get(format!("{base}/alerts"))
            .send()
            .await
            .expect("alerts API")
            .json()
            .await
            .expect("alerts JSON");
        let states = (
            state(&got, "critical", "llm"),
            state(&got, "warning", "llm"),
            state(&got, "warning", "tts"),
        );
        let want = (Some("active".into()), Some("suppressed".into()), Some("active".into()));
        if states == want {
            let warning = got
                .iter()
                .find(|a| a["labels"]["severity"] == "warning" && a["labels"]["kind"] == "llm")
                .expect("warning");
            let by = warning["status"]["inhibitedBy"].as_array().map_or(0, Vec::len);
            assert_eq!(by, 1, "suppressed, but not by inhibition: {warning}");
            break;
        }
        assert!(Instant::now() < deadline, "states {states:?}, want {want:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `(job, alertname, error)` of every alert one notification carried.
type Notified = Vec<(String, String, String)>;

fn alert(job: &str, name: &str, severity: &str, labels: &[(&str, &str)]) -> Value {
    let mut all =
        json!({"alertname": name, "job": job, "severity": severity, "category": "errors"});
    for (k, v) in labels {
        all[*k] = json!(v);
    }
    json!({"labels": all})
}

/// Alertmanager with the generated routes and inhibitions, every receiver a webhook to
/// `hook`; notifications wait one second.
fn start_alertmanager(binary: &std::path::Path, hook: &str) -> (Daemon, String) {
    let mut config = Config::default();
    config.alertmanager.group_wait_seconds = 1;
    config.alertmanager.group_interval_seconds = 1;
    let mut doc = alertmanager::document(&config);
    let receivers: Vec<Value> = doc["receivers"]
        .as_array()
        .expect("receivers")
        .iter()
        .map(|r| json!({"name": r["name"], "webhook_configs": [{"url": hook, "send_resolved": false}]}))
        .collect();
    doc["receivers"] = json!(receivers);
    doc["global"] = json!({"resolve_timeout": "5m"});
    let dir = TempDir::new("alertmanager");
    // YAML is a superset of JSON.
    std::fs::write(dir.path().join("alertmanager.yml"), doc.to_string()).expect("write");
    let port = free_port();
    let child = Command::new(binary)
        .arg(format!("--config.file={}", dir.path().join("alertmanager.yml").display()))
        .arg(format!("--storage.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start alertmanager");
    (Daemon::new(child, dir), format!("http://127.0.0.1:{port}/api/v2"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cause_mutes_its_consequences_so_each_incident_notifies_once() {
    let Some(binary) = tool("prometheus-alertmanager", "prometheus-alertmanager") else { return };
    // (job, alertname, extra labels) of every alert each notification carried.
    let received: Arc<Mutex<Vec<Notified>>> = Arc::default();
    let sink = Arc::clone(&received);
    let hook = axum::Router::new().route(
        "/hook",
        post(move |body: axum::Json<Value>| {
            let sink = Arc::clone(&sink);
            async move {
                let alerts = body["alerts"].as_array().cloned().unwrap_or_default();
                let notified = alerts
                    .iter()
                    .map(|a| {
                        let l = &a["labels"];
                        let text = |k: &str| l[k].as_str().unwrap_or_default().to_owned();
                        (text("job"), text("alertname"), text("error"))
                    })
                    .collect();
                sink.lock().expect("lock").push(notified);
            }
        }),
    );
    let hook = format!("http://{}/hook", serve(hook).await);
    let (_alertmanager, base) = start_alertmanager(&binary, &hook);

    let outage = [("kind", "llm"), ("provider", "groq")];
    let alerts = json!([
        // An LLM provider outage: the open circuit, and what it causes.
        alert("outage", "ProviderCircuitOpen", "critical", &outage),
        alert(
            "outage",
            "ProviderErrors",
            "warning",
            &[outage[0], outage[1], ("error", "unavailable")]
        ),
        alert("outage", "HighProviderTTFB", "warning", &outage),
        alert("outage", "HighProviderTTFB", "critical", &outage),
        alert("outage", "HighFallbackRate", "warning", &[outage[0]]),
        alert("outage", "HighFallbackRate", "critical", &[outage[0]]),
        // Another kind's slowness is not the outage's: it notifies.
        alert("outage", "HighProviderTTFB", "warning", &[("kind", "tts"), ("provider", "azure")]),
        // A job lost from scraping: everything else of it is muted.
        alert("down", "ServiceDown", "critical", &[]),
        alert("down", "HighHTTPErrorRate", "critical", &[("route", "/calls")]),
        alert("down", "HighCPUUsage", "warning", &[]),
        // A missing key: the auth errors it causes are muted, other errors are not.
        alert("keys", "ConfigMissing", "critical", &[("field", "llm.api_key")]),
        alert(
            "keys",
            "ProviderErrors",
            "warning",
            &[("kind", "llm"), ("provider", "groq"), ("error", "auth")]
        ),
        alert(
            "keys",
            "ProviderErrors",
            "warning",
            &[("kind", "tts"), ("provider", "azure"), ("error", "timeout")]
        ),
    ]);
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let posted = client.post(format!("{base}/alerts")).json(&alerts).send().await;
        if posted.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        assert!(Instant::now() < deadline, "Alertmanager did not start");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let expected: BTreeMap<(&str, &str, &str), usize> = BTreeMap::from([
        (("outage", "ProviderCircuitOpen", ""), 1),
        (("outage", "HighProviderTTFB", ""), 1),
        (("down", "ServiceDown", ""), 1),
        (("keys", "ConfigMissing", ""), 1),
        (("keys", "ProviderErrors", "timeout"), 1),
    ]);
    let count = || {
        let mut counts: BTreeMap<(String, String, String), usize> = BTreeMap::new();
        for notification in received.lock().expect("lock").iter() {
            for key in notification {
                *counts.entry(key.clone()).or_default() += 1;
            }
        }
        counts
    };
    let as_owned =
        |m: &BTreeMap<(&str, &str, &str), usize>| -> BTreeMap<(String, String, String), usize> {
            m.iter()
                .map(|((j, a, e), n)| ((j.to_string(), a.to_string(), e.to_string()), *n))
                .collect()
        };
    while count() != as_owned(&expected) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Several group intervals more: nothing else arrives, nothing repeats.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(count(), as_owned(&expected));
    // The outage's notification carried the circuit alone.
    let notifications = received.lock().expect("lock").clone();
    let outage_notes: Vec<_> =
        notifications.iter().filter(|n| n.iter().any(|(job, ..)| job == "outage")).collect();
    assert_eq!(outage_notes.len(), 2, "{notifications:?}");
}
