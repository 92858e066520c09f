//! The push to a real Alertmanager (Debian's prometheus-alertmanager): alerts posted to
//! its `/api/v2/alerts` come back out of it, grouped and routed, as webhook
//! notifications to a loopback receiver, firing and then resolved.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{Alertmanager, Receiver, TempDir, answer, notification, run};
use voxscope_alert::Config;
use voxscope_alerting::channel;
use voxscope_alerting::delivery::Delivery;
use voxscope_alerting::notification::Status;

const INSTALL: &str = "apt-get install prometheus-alertmanager";

/// Waits for `condition` on the real clock, polling every 50 ms, at most `limit`.
async fn until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while !condition() {
        if started.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

#[test]
fn alerts_pushed_to_a_real_alertmanager_reach_its_webhook_firing_then_resolved() {
    let Some(binary) = support::tool("prometheus-alertmanager", INSTALL) else { return };
    let dir = TempDir::new("alertmanager");
    let counts = run(false, || async {
        let hook = Receiver::start(answer(200, "")).await;
        let config_file = dir.file(
            "alertmanager.yml",
            &format!(
                "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 0s\n  \
                 group_interval: 1s\n  repeat_interval: 1h\n\
                 receivers:\n  - name: hook\n    webhook_configs:\n      \
                 - url: {}\n        send_resolved: true\n",
                hook.url("/from-alertmanager")
            ),
        );
        let alertmanager = Alertmanager::start(&binary, &config_file, dir.path()).await;
        let port = alertmanager.port;

        let toml = format!("[delivery]\nalertmanager_url = \"http://127.0.0.1:{port}/\"\n");
        let config = Config::from_toml(&toml).expect("config");
        let delivery = Delivery::new(
            &config.delivery,
            channel::from_config(&config, Arc::new(|_: &str| None)),
            channel::alertmanager_from_config(&config),
        );
        let firing = notification("critical", Status::Firing).alerts;
        assert!(delivery.push_alerts(firing.clone()));
        assert!(until(Duration::from_secs(30), || hook.count() >= 1).await, "no firing notice");
        let resolved = notification("critical", Status::Resolved).alerts;
        assert!(delivery.push_alerts(resolved));
        assert!(until(Duration::from_secs(30), || hook.count() >= 2).await, "no resolved notice");
        assert_eq!(delivery.shutdown(Duration::from_secs(10)).await, 0);

        let bodies = hook.bodies();
        let summary = |b: &serde_json::Value| {
            let alert = &b["alerts"][0];
            json!({
                "status": b["status"],
                "receiver": b["receiver"],
                "count": b["alerts"].as_array().map(Vec::len),
                "labels": alert["labels"],
                "annotations": alert["annotations"],
                "startsAt": alert["startsAt"],
                "endsAt": alert["endsAt"],
                "generatorURL": alert["generatorURL"],
            })
        };
        let labels = json!(firing[0].labels);
        let annotations = json!(firing[0].annotations);
        let expected = |status: &str, ends_at: &str| {
            json!({
                "status": status,
                "receiver": "hook",
                "count": 1,
                "labels": labels,
                "annotations": annotations,
                "startsAt": "2026-01-02T03:04:05.678Z",
                "endsAt": ends_at,
                "generatorURL": "http://voice-agent:3000/api/v1/rules",
            })
        };
        assert_eq!(summary(&bodies[0])["status"], "firing");
        assert_eq!(summary(&bodies[0])["labels"], labels);
        assert_eq!(summary(&bodies[0])["startsAt"], "2026-01-02T03:04:05.678Z");
        assert_eq!(summary(&bodies[1]), expected("resolved", "2026-01-02T03:09:05.678Z"));
    });
    assert_eq!(counts.0, [("alertmanager".to_owned(), "success".to_owned(), 2)]);
}
