//! The generated Alertmanager config in a real Alertmanager on loopback: a critical
//! alert inhibits the warning of the same alertname and subject, and nothing else.

mod alert_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use alert_support::{Daemon, free_port, tool, write_deploy};
use serde_json::{Value, json};
use voxscope::alert::{Config, RuleCatalog, deploy};

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
